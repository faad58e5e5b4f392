import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { BudgetSignalSchema, type CampaignBudget, CampaignBudgetSchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { readMessage } from "../../lib/nats/read-message.ts";
import { type BudgetBookView, createBudgetState, refreshBudget, snapshotBudget } from "./state.ts";

describe("budget state", () => {
  it("budget state - a tick that changes no campaign's entry is no new revision (no signal while idle)", () => {
    let remaining = 100n;
    const book = {
      campaignIds: () => ["a", "b"],
      status: (campaignId: string): CampaignBudget =>
        create(CampaignBudgetSchema, { campaignId, remainingMicros: campaignId === "a" ? remaining : 5n }),
    } as unknown as BudgetBookView;
    const state = { ...createBudgetState(), book };
    expect(refreshBudget(state, 1_000)).toEqual(["global"]);
    expect(state.revision).toBe(1n);
    const entry = state.campaigns.get("a");
    expect(refreshBudget(state, 2_000)).toBeUndefined();
    expect(state.revision).toBe(1n);
    expect(state.campaigns.get("a")).toBe(entry); // unchanged entries are kept (votes cache by entry)
    remaining = 90n;
    expect(refreshBudget(state, 3_000)).toEqual(["global"]);
    expect(state.revision).toBe(2n);
    expect(state.campaigns.get("a")?.remainingMicros).toBe(90n);
    expect(state.atMs).toBe(3_000);
  });

  it("budget state - the pace drifting with the clock is no new revision until it has moved by 1e-4", () => {
    let pace = 0.8;
    const book = {
      campaignIds: () => ["a"],
      status: (campaignId: string): CampaignBudget =>
        create(CampaignBudgetSchema, {
          campaignId,
          remainingMicros: 50n,
          paceRatio: pace,
          bidMultiplier: 2 - pace,
        }),
    } as unknown as BudgetBookView;
    const state = { ...createBudgetState(), book };
    expect(refreshBudget(state, 1_000)).toEqual(["global"]);
    const published = state.campaigns.get("a");
    // A second's drift, many times over: still what was published (compared with it, not with the last tick).
    for (let t = 2; t < 100; t++) {
      pace -= 4e-7;
      expect(refreshBudget(state, t * 1_000)).toBeUndefined();
    }
    expect(state.campaigns.get("a")).toBe(published);
    pace -= 1e-4;
    expect(refreshBudget(state, 100_000)).toEqual(["global"]);
    expect(state.campaigns.get("a")?.paceRatio).toBeCloseTo(pace, 12);
    expect(state.revision).toBe(2n);
  });

  it("budget state - the signal before the first refresh passes the bus's value check (no epoch timestamp)", () => {
    const state = createBudgetState();
    const first = readMessage(BudgetSignalSchema, toBinary(BudgetSignalSchema, snapshotBudget(state)));
    expect(first).toMatchObject({ ok: true });
    state.atMs = Date.UTC(2026, 11, 6);
    const later = readMessage(BudgetSignalSchema, toBinary(BudgetSignalSchema, snapshotBudget(state)));
    expect(later.ok && later.message.at?.seconds).toBe(BigInt(state.atMs / 1000));
  });
});
