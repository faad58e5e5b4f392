import { create } from "@bufbuild/protobuf";
import type { DecisionEngine } from "../../gateway/server/ports.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import { type DecideResponse, DecideResponseSchema } from "../../gen/chorus/v1/decision_pb.ts";

/**
 * An engine that answers a typical 3-ad pod at once, so a Decide benchmark measures only the gateway's cost
 * (protocol, decode, validation, encode). The response is built once; encoding it is part of every call.
 */
export class FixedPodEngine implements DecisionEngine {
  private readonly pod: DecideResponse = create(DecideResponseSchema, {
    decisionId: "01JBENCH0000000000000000000",
    coordination: "cached",
    moduleVersions: [
      { module: "kernel", version: "1.4.0" },
      { module: "relevance", version: "2.0.1" },
    ],
    ads: [1, 2, 3].map((sequence) => ({
      sequence,
      creativeId: `creative-${sequence}`,
      campaignId: `campaign-${sequence}`,
      advertiserId: `advertiser-${sequence}`,
      priceMicros: 2_150n * BigInt(sequence),
      format: AdFormat.AUDIO,
      durationMs: 15_000 * sequence,
      insertionOffsetMs: 184_000,
      mediaUrl: `https://cdn.example.com/ads/creative-${sequence}.mp3`,
      clickUrl: `https://advertiser-${sequence}.example.com/landing`,
      iabCategory: "IAB2-3",
      tracking: {
        impression: [`https://t.example.com/i?c=creative-${sequence}&d=01JBENCH`],
        complete: [`https://t.example.com/c?c=creative-${sequence}&d=01JBENCH`],
      },
    })),
  });

  async decide(): Promise<DecideResponse> {
    return this.pod;
  }
}
