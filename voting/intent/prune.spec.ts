import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CampaignImpressionsSchema, UserProfileSchema } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { userShard } from "../../lib/subjects.ts";
import { createIntentState, MAX_CAP_WINDOW_MS, prune } from "./state.ts";

describe("intent prune - impressions past every cap window go, the rest stay", () => {
  it("drops out-of-window impressions (and emptied campaigns), reports the shard, and leaves recent ones", () => {
    const now = Date.UTC(2026, 0, 31);
    const state = createIntentState();
    const old = BigInt(now - MAX_CAP_WINDOW_MS);
    const recent = BigInt(now - 60_000);
    state.profiles.set(
      "u1",
      create(UserProfileSchema, {
        userId: "u1",
        lastSeenMs: BigInt(now),
        impressions: [
          create(CampaignImpressionsSchema, { campaignId: "a", atMs: [old - 1n, old, recent] }),
          create(CampaignImpressionsSchema, { campaignId: "b", atMs: [old] }),
        ],
      }),
    );
    state.profiles.set(
      "u2",
      create(UserProfileSchema, {
        userId: "u2",
        lastSeenMs: BigInt(now),
        impressions: [create(CampaignImpressionsSchema, { campaignId: "a", atMs: [old + 1n, recent] })],
      }),
    );
    expect(prune(state, now)).toEqual([String(userShard("u1"))]);
    expect(state.profiles.get("u1")!.impressions.map((h) => [h.campaignId, h.atMs])).toEqual([["a", [recent]]]);
    expect(state.profiles.get("u2")!.impressions[0]!.atMs).toEqual([old + 1n, recent]);
    expect(prune(state, now)).toEqual([]);
  });
});
