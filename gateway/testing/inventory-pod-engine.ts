import { create } from "@bufbuild/protobuf";
import {
  type DecideRequest,
  type DecideResponse,
  DecideResponseSchema,
  NoFillReason,
  type PodAd,
  PodAdSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import type { CatalogView } from "../../lib/catalog/catalog-view.ts";
import type { Cancellation, DecisionEngine } from "../server/ports.ts";

/**
 * A test double for the decision engine (the real one lives in gateway/decide): fills the pod with the first
 * servable creatives of the live inventory (JetStream KV via CatalogView) that fit the placement, priced at the
 * floor. Protocol tests use it so that a Decide answer depends on real catalog data, not on a canned response.
 */
export class InventoryPodEngine implements DecisionEngine {
  constructor(private readonly view: CatalogView) {}

  async decide(request: DecideRequest, { signal }: { signal?: Cancellation }): Promise<DecideResponse> {
    if (signal?.aborted) throw signal.reason;
    const placement = request.placement!;
    const ads: PodAd[] = [];
    let totalMs = 0;
    for (const { creative, campaign } of this.view.inventory.candidates) {
      if (ads.length === placement.maxAds) break;
      if (placement.allowedFormats.length > 0 && !placement.allowedFormats.includes(creative.format)) continue;
      if (totalMs + creative.durationMs > placement.maxDurationMs) continue;
      totalMs += creative.durationMs;
      ads.push(
        create(PodAdSchema, {
          sequence: ads.length + 1,
          creativeId: creative.id,
          campaignId: campaign.id,
          advertiserId: campaign.advertiserId,
          priceMicros: placement.floorPriceMicros,
          format: creative.format,
          durationMs: creative.durationMs,
          mediaUrl: creative.mediaUrl,
          clickUrl: creative.clickUrl,
          tracking: creative.tracking,
          iabCategory: creative.iabCategory,
        }),
      );
    }
    return create(DecideResponseSchema, {
      decisionId: `test-${request.requestId}`,
      ads,
      noFillReason: ads.length === 0 ? NoFillReason.NO_ELIGIBLE_CANDIDATE : NoFillReason.UNSPECIFIED,
      coordination: "test-inventory",
    });
  }
}
