import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DecideResponseSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { EventTokens, newEventTokenKey, parseEventTokenKeys } from "../auth/event-token.ts";
import { signAds } from "./decision-service.ts";

const tokens = new EventTokens(parseEventTokenKeys(newEventTokenKey("spec")), 60_000);

describe("signAds", () => {
  it("signs a copy: an engine's shared pod is never changed, so each call's URLs carry exactly one token", () => {
    // An engine may answer the same (cached, fixed) pod object on every call.
    const shared = create(DecideResponseSchema, {
      decisionId: "d-1",
      ads: [1, 2].map((n) => ({
        creativeId: `cr-${n}`,
        tracking: { impression: [`https://t.example/i?c=${n}`], complete: [`https://t.example/c?c=${n}#f`] },
      })),
    });
    const before = structuredClone(shared);
    for (let call = 0; call < 3; call++) {
      const signed = signAds(shared, tokens);
      for (const ad of signed.ads) {
        expect(ad.eventToken).not.toBe("");
        for (const url of [...ad.tracking!.impression, ...ad.tracking!.complete])
          expect(url.match(/chorus_et=/g)).toHaveLength(1);
      }
    }
    expect(shared).toEqual(before);
  });
});
