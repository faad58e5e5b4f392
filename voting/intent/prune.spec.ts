import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  CampaignImpressionsSchema,
  IntentSignalSchema,
  UserProfileSchema,
} from "../../gen/chorus/v1/agent_signals_pb.ts";
import { AdEventSchema, AdEventType } from "../../gen/chorus/v1/decision_pb.ts";
import { LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { userShard } from "../../lib/subjects.ts";
import { applyImpression, createIntentState, MAX_CAP_WINDOW_MS, prune, restoreIntent } from "./state.ts";

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

  it("skips its scan while nothing can be out of window, and still drops what arrives later and ages out", () => {
    const day = 86_400_000;
    const now = Date.UTC(2026, 0, 31);
    const state = createIntentState();
    const impression = (userId: string, atMs: number) =>
      applyImpression(
        state,
        create(LedgerEntrySchema, {
          userId,
          campaignId: "a",
          event: create(AdEventSchema, { type: AdEventType.IMPRESSION, occurredAt: timestampFromMs(atMs) }),
        }),
        () => true,
        now,
      );
    impression("u1", now - day);
    expect(prune(state, now)).toEqual([]);
    expect(state.oldestImpressionMs).toBe(now - day);
    // An impression older than every one held (a client clock behind) lowers the mark: it ages out first.
    impression("u2", now - 2 * day);
    expect(prune(state, now - 2 * day + MAX_CAP_WINDOW_MS)).toEqual([String(userShard("u2"))]);
    expect(state.profiles.get("u2")!.impressions).toEqual([]);
    expect(state.oldestImpressionMs).toBe(now - day);
    // Profiles restored from a signal bring their own history: it is scanned too.
    restoreIntent(
      state,
      "0",
      create(IntentSignalSchema, {
        profiles: [
          create(UserProfileSchema, {
            userId: "u3",
            lastSeenMs: BigInt(now),
            impressions: [create(CampaignImpressionsSchema, { campaignId: "a", atMs: [BigInt(now - 3 * day)] })],
          }),
        ],
      }),
    );
    expect(prune(state, now - 2 * day + MAX_CAP_WINDOW_MS)).toEqual([String(userShard("u3"))]);
    expect(prune(state, now - day + MAX_CAP_WINDOW_MS)).toEqual([String(userShard("u1"))]);
    expect(state.profiles.get("u1")?.impressions).toEqual([]);
    expect(state.oldestImpressionMs).toBe(Number.POSITIVE_INFINITY);
  });
});
