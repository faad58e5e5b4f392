import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { VetoReason } from "../../gen/chorus/v1/agent_pb.ts";
import { CampaignSchema, CreativeSchema, EntityStatus } from "../../gen/chorus/v1/campaign_pb.ts";
import { DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { CampaignBudgetSchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { Inventory } from "../../lib/catalog/inventory.ts";
import { budgetAgent } from "./agent.ts";

const ids = ["behind", "spent", "ahead", "unknown"];
const inventory = new Inventory(
  new Map(),
  new Map(ids.map((id) => [id, create(CampaignSchema, { id, status: EntityStatus.ACTIVE })])),
  new Map(
    ids.map((id) => [
      `${id}-cr`,
      create(CreativeSchema, { id: `${id}-cr`, campaignId: id, status: EntityStatus.ACTIVE }),
    ]),
  ),
);
const ctx = (runId: string) => ({ runId, request: create(DecideRequestSchema), inventory, nowMs: 0, priorVotes: [] });

describe("budget vote", () => {
  const state = budgetAgent.createState();
  budgetAgent.restore(state, "global", {
    ...budgetAgent.snapshot(state, "global", "full"),
    campaigns: [
      create(CampaignBudgetSchema, { campaignId: "behind", paceRatio: 0.5, serving: true }),
      create(CampaignBudgetSchema, { campaignId: "spent", paceRatio: 1, exhausted: true, serving: true }),
      create(CampaignBudgetSchema, { campaignId: "ahead", paceRatio: 1.5, throttleProbability: 1, serving: true }),
    ],
  });

  it("vote - vetoes spent and throttled campaigns, favours those behind plan, has no opinion on unknown ones", () => {
    const vote = budgetAgent.vote(ctx("run-1"), state);
    const index = (id: string) => inventory.byCreativeId(`${id}-cr`)?.index ?? -1;
    expect(vote.vetoes.map((v) => [v.candidate, v.reason])).toEqual(
      expect.arrayContaining([
        [index("spent"), VetoReason.BUDGET_EXHAUSTED],
        [index("ahead"), VetoReason.BUDGET_THROTTLED],
      ]),
    );
    expect(vote.vetoes).toHaveLength(2);
    expect(vote.scores[index("behind")]).toBeCloseTo(0.75);
    expect(vote.scores[index("unknown")]).toBe(0.5);
    expect(vote.confidence).toBeCloseTo(0.75);
  });

  it("vote - a restored signal gives the same vote as the state it was taken from (cached mode)", () => {
    const mirror = budgetAgent.createState();
    budgetAgent.restore(mirror, "global", budgetAgent.snapshot(state, "global", "delta"));
    expect(budgetAgent.vote(ctx("run-2"), mirror)).toEqual(budgetAgent.vote(ctx("run-2"), state));
  });

  it("vote - a throttle probability of 0.5 skips about half of the runs, the same way in every process", () => {
    const half = budgetAgent.createState();
    budgetAgent.restore(half, "global", {
      ...budgetAgent.snapshot(half, "global", "full"),
      campaigns: [
        create(CampaignBudgetSchema, { campaignId: "ahead", paceRatio: 1.12, throttleProbability: 0.5, serving: true }),
      ],
    });
    const throttled = Array.from(
      { length: 2_000 },
      (_, i) => budgetAgent.vote(ctx(`r${i}`), half).vetoes.length,
    ).reduce((a, b) => a + b, 0);
    expect(throttled).toBeGreaterThan(850);
    expect(throttled).toBeLessThan(1_150);
  });
});

describe("budget vote - vetoes kept per budget entry", () => {
  it("a new signal's figures are seen by the next vote (details, reasons, draws)", () => {
    const state = budgetAgent.createState();
    const restore = (...campaigns: Parameters<typeof create<typeof CampaignBudgetSchema>>[1][]) =>
      budgetAgent.restore(state, "global", {
        ...budgetAgent.snapshot(state, "global", "full"),
        campaigns: campaigns.map((c) => create(CampaignBudgetSchema, c)),
      });
    const index = (id: string) => inventory.byCreativeId(`${id}-cr`)?.index ?? -1;
    restore(
      { campaignId: "ahead", paceRatio: 1.5, throttleProbability: 1, serving: true },
      { campaignId: "spent", paceRatio: 1, exhausted: true, serving: true },
    );
    expect(budgetAgent.vote(ctx("run-1"), state).vetoes.map((v) => [v.candidate, v.detail])).toEqual(
      expect.arrayContaining([
        [index("ahead"), "budget: ahead of plan (pace 1.50), throttled"],
        [index("spent"), "budget: spent (less than one ad left)"],
      ]),
    );
    restore(
      { campaignId: "ahead", paceRatio: 1.25, throttleProbability: 1, serving: true },
      { campaignId: "spent", paceRatio: 1, exhausted: true, serving: false },
    );
    expect(budgetAgent.vote(ctx("run-1"), state).vetoes.map((v) => [v.candidate, v.detail])).toEqual(
      expect.arrayContaining([
        [index("ahead"), "budget: ahead of plan (pace 1.25), throttled"],
        [index("spent"), "budget: campaign not serving now"],
      ]),
    );
    restore({ campaignId: "ahead", paceRatio: 1.25, throttleProbability: 0, serving: true });
    restore({ campaignId: "spent", paceRatio: 0.5, serving: true });
    expect(budgetAgent.vote(ctx("run-1"), state).vetoes).toEqual([]);
  });
});
