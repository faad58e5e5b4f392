import type { Scenario } from "./scenario.ts";

/** One report in a million may arrive after the window: the coverage an operator sets for a market's delays. */
export const LATE_REPORT_SHARE = 1e-6;
/** Never shorter than the window the simulator used before delays were taken into account. */
export const MIN_WINDOW_MINUTES = 60;

/**
 * The billing window (simulated minutes) that covers a scenario's reporting delays, as an operator sets
 * `impressionWindowMs` for the market it serves. The window must cover the delays: the Budget book releases an
 * unreported sale when the window closes and may lease that budget again, so a report that comes later is an ad
 * played that no one can bill, and it can take its campaign past its budget. The player reports after the break has
 * played (at most `maxBreakMs`), late by `minDelayMs` plus an exponential of mean `meanExtraDelayMs`, so
 * P(delay > t) <= exp(-(t - maxBreak - min) / mean) and the window for a late share s is
 * maxBreak + min + mean * ln(1/s). A longer window holds the budget of sold ads that never play for longer (measured in
 * docs/benchmarks.md: late-events, 60 vs 143 minutes, under-delivery +0.4 points).
 */
export function coveringWindowMinutes(
  scenario: Pick<Scenario, "events" | "publisher">,
  lateShare = LATE_REPORT_SHARE,
): number {
  const { events, publisher } = scenario;
  const ms = publisher.maxBreakMs + events.minDelayMs + events.meanExtraDelayMs * Math.log(1 / lateShare);
  return Math.max(MIN_WINDOW_MINUTES, Math.ceil(ms / 60_000));
}

/** `--impression-window-minutes`: a number of simulated minutes, or `auto` for {@link coveringWindowMinutes}. */
export function impressionWindowMinutes(raw: string, scenario: Scenario): number {
  if (raw === "auto") return coveringWindowMinutes(scenario);
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new RangeError(`impression window: "${raw}" is neither auto nor minutes > 0`);
  return n;
}
