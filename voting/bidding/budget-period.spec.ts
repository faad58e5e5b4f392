import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { CampaignSchema } from "../../gen/chorus/v1/campaign_pb.ts";
import { budgetPeriod, DAY_MS, FLIGHT_PERIOD } from "./budget-period.ts";
import { budgetPace } from "./vote.ts";

const HOUR = 3_600_000;
const t0 = 20_000 * DAY_MS + 6 * HOUR;
const campaign = (daily = 0n) =>
  create(CampaignSchema, {
    id: "c",
    budgetMicros: 1_000_000n,
    dailyBudgetMicros: daily,
    startTime: timestampFromMs(t0),
    endTime: timestampFromMs(t0 + 3 * HOUR),
  });

describe("bidding budget period", () => {
  it("a total budget with a bounded flight is paced over the flight, not until midnight", () => {
    expect(budgetPeriod(campaign(), t0 + HOUR)).toEqual({
      id: FLIGHT_PERIOD,
      startMs: t0,
      endMs: t0 + 3 * HOUR,
      budgetMicros: 1_000_000,
    });
    // 100 auctions in the first hour: 200 expected in the two hours left (before: 1,700 until midnight).
    const pace = budgetPace(campaign(), 400_000, 100, t0 + HOUR);
    expect(pace.opportunitiesLeft).toBeCloseTo(200, 6);
    expect(pace.budgetLeftMicros).toBe(600_000);
  });

  it("a daily budget is paced over the day, cut to the flight", () => {
    const p = budgetPeriod(campaign(300_000n), t0 + HOUR);
    expect(p.id).toBe(20_000);
    expect(p.endMs).toBe(t0 + 3 * HOUR);
    expect(p.budgetMicros).toBe(300_000);
  });

  it("a campaign behind plan has more budget per auction left than one ahead", () => {
    const behind = budgetPace(campaign(), 100_000, 100, t0 + 2 * HOUR);
    const ahead = budgetPace(campaign(), 900_000, 100, t0 + 2 * HOUR);
    expect(behind.budgetLeftMicros / behind.opportunitiesLeft).toBeGreaterThan(
      8 * (ahead.budgetLeftMicros / ahead.opportunitiesLeft),
    );
  });
});
