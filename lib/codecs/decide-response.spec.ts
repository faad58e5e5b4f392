import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { TrackingUrlsSchema } from "../../gen/chorus/v1/common_pb.ts";
import {
  DecideResponseSchema,
  DegradedAgentSchema,
  ExplanationSchema,
  ModuleVersionSchema,
  PodAdSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import { createSeededRandom } from "../random/seeded-random.ts";
import { encodeDecideResponse } from "./decide-response.ts";

describe("decide response - hand-written encoding", () => {
  it("covers every field of the messages it writes (a new field must be encoded too)", () => {
    expect(DecideResponseSchema.fields.map((f) => f.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(PodAdSchema.fields.map((f) => f.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(TrackingUrlsSchema.fields.map((f) => f.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(DegradedAgentSchema.fields.map((f) => f.number)).toEqual([1, 2, 3, 4]);
    expect(ModuleVersionSchema.fields.map((f) => f.number)).toEqual([1, 2]);
  });

  it("writes toBinary's bytes, zero, negative and odd values included", () => {
    const rnd = createSeededRandom(11);
    const maybe = <T>(value: T, zero: T) => (rnd() < 0.3 ? zero : value);
    const urls = () => maybe([`https://t.example/${Math.floor(rnd() * 1e6)}?ü=1`, "https://t.example/b"], []);
    for (let i = 0; i < 300; i++) {
      const ads = Array.from({ length: Math.floor(rnd() * 4) }, (_, k) =>
        create(PodAdSchema, {
          sequence: maybe(k + 1, 0),
          creativeId: maybe(`cr-${k}-é`, ""),
          campaignId: maybe(`cmp-${k}`, ""),
          advertiserId: maybe("adv-1", ""),
          priceMicros: maybe(BigInt(Math.floor(rnd() * 1e9)) - 100n, 0n),
          format: maybe(1 + Math.floor(rnd() * 3), 0),
          durationMs: maybe(15_000 + k, 0),
          insertionOffsetMs: maybe(Math.floor(rnd() * 2 ** 32), 0),
          mediaUrl: maybe("https://cdn.example/a.mp3", ""),
          clickUrl: maybe("https://click.example/x", ""),
          tracking:
            rnd() < 0.7
              ? create(TrackingUrlsSchema, {
                  impression: urls(),
                  start: urls(),
                  firstQuartile: urls(),
                  midpoint: urls(),
                  thirdQuartile: urls(),
                  complete: urls(),
                  skip: urls(),
                  click: urls(),
                })
              : undefined,
          iabCategory: maybe("IAB1-2", ""),
          eventToken: maybe(`k1.${Math.floor(rnd() * 2e9)}.AAECAwQFBgcICQoLDA0ODw`, ""),
        }),
      );
      const response = create(DecideResponseSchema, {
        decisionId: maybe(crypto.randomUUID(), ""),
        ads,
        degradedAgents: maybe(
          [
            create(DegradedAgentSchema, { agent: "timing", reason: 1, fallback: 2, weight: Math.fround(rnd()) }),
            create(DegradedAgentSchema, { agent: maybe("bidding", ""), weight: maybe(-0, Number.NaN) }),
          ],
          [],
        ),
        moduleVersions: maybe([create(ModuleVersionSchema, { module: "kernel", version: maybe("1.2.0", "") })], []),
        explanation: rnd() < 0.2 ? create(ExplanationSchema, { summary: "2 ads", candidates: [] }) : undefined,
        noFillReason: maybe(Math.floor(rnd() * 5), 0),
        coordination: maybe("cached", ""),
        nextBreakOffsetMs: maybe(Math.floor(rnd() * 60_000), 0),
      });
      expect(Buffer.from(encodeDecideResponse(response)).toString("hex")).toBe(
        Buffer.from(toBinary(DecideResponseSchema, response)).toString("hex"),
      );
    }
  });
});
