import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Campaign } from "../../gen/chorus/v1/campaign_pb.ts";

export const DAY_MS = 86_400_000;
/** The `id` of a campaign's whole flight (a day's id is its day number, >= 0). */
export const FLIGHT_PERIOD = -1;

/** The span a campaign's pacing spreads a budget over. */
export interface BudgetPeriod {
  /** The UTC day number for a daily budget, FLIGHT_PERIOD for the whole flight. */
  id: number;
  startMs: number;
  endMs: number;
  budgetMicros: number;
}

/**
 * The budget period the Bidding agent paces over: the campaign's flight when it has a total budget and a flight
 * with both ends (the budget must be spent by the flight's end, not by midnight); otherwise, and for a daily budget,
 * the UTC day, cut to the flight.
 */
export function budgetPeriod(campaign: Campaign, nowMs: number): BudgetPeriod {
  const start = campaign.startTime ? timestampMs(campaign.startTime) : Number.NEGATIVE_INFINITY;
  const end = campaign.endTime ? timestampMs(campaign.endTime) : Number.POSITIVE_INFINITY;
  const daily = campaign.dailyBudgetMicros > 0n;
  if (!daily && Number.isFinite(start) && Number.isFinite(end) && end > start)
    return { id: FLIGHT_PERIOD, startMs: start, endMs: end, budgetMicros: Number(campaign.budgetMicros) };
  const day = Math.floor(nowMs / DAY_MS);
  return {
    id: day,
    startMs: Math.max(start, day * DAY_MS),
    endMs: Math.min(end, (day + 1) * DAY_MS),
    budgetMicros: Number(daily ? campaign.dailyBudgetMicros : campaign.budgetMicros),
  };
}
