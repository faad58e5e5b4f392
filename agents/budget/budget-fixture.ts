import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { JetStreamClient } from "@nats-io/jetstream";
import { CampaignSchema, CreativeSchema, EntityStatus, PacingMode } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import { CatalogStore, openCatalogBucket } from "../../lib/catalog/catalog-store.ts";
import { CatalogView } from "../../lib/catalog/catalog-view.ts";

export interface TestCampaign {
  id: string;
  budgetMicros: bigint;
  dailyBudgetMicros?: bigint;
  pacing?: PacingMode;
  flightMs?: number;
  /** The max bid: one ad then costs at most maxCpmMicros / 1000 (no bid strategy when unset). */
  maxCpmMicros?: bigint;
}

/**
 * Writes ASAP campaigns (one creative each, `<id>-cr`) to the catalog bucket and opens a view that has them: the
 * Budget agent's tests, the fault driver and the fault script share it.
 */
export async function seedCampaigns(js: JetStreamClient, campaigns: readonly TestCampaign[]): Promise<CatalogView> {
  const kv = await openCatalogBucket(js);
  const store = new CatalogStore(kv);
  const now = Date.now();
  for (const c of campaigns) {
    if (await store.find("campaign", c.id)) continue;
    await store.create(
      "campaign",
      create(CampaignSchema, {
        id: c.id,
        advertiserId: "adv",
        name: c.id,
        status: EntityStatus.ACTIVE,
        budgetMicros: c.budgetMicros,
        dailyBudgetMicros: c.dailyBudgetMicros ?? 0n,
        startTime: timestampFromMs(now - 60_000),
        endTime: timestampFromMs(now + (c.flightMs ?? 24 * 3_600_000)),
        pacing: c.pacing ?? PacingMode.ASAP,
        bidStrategy: c.maxCpmMicros ? { maxCpmMicros: c.maxCpmMicros } : undefined,
      }),
    );
    await store.create(
      "creative",
      create(CreativeSchema, {
        id: `${c.id}-cr`,
        campaignId: c.id,
        name: c.id,
        status: EntityStatus.ACTIVE,
        format: AdFormat.AUDIO,
        durationMs: 15_000,
      }),
    );
  }
  const view = await CatalogView.open(kv);
  await view.waitFor((inv) => campaigns.every((c) => inv.byCreativeId(`${c.id}-cr`)));
  return view;
}
