import { describe, expect, it } from "vitest";
import type { LatencySummary } from "./latency-histogram.ts";
import { passes, type RateStep, searchRates } from "./rate-search.ts";

const criteria = { sloP99Ms: 10, maxErrorRate: 0.001, stopP99Ms: 50 };
const step = (rate: number, p99: number, errorRate = 0): RateStep => {
  const latency: LatencySummary = { count: 1, mean: 1, p50: 1, p90: 1, p99, p999: p99, max: p99 };
  return {
    rate,
    throughput: rate,
    latency,
    clientLagP99: 0,
    errors: 0,
    errorRate,
    errorSamples: [],
    processes: [],
    passed: passes(latency, errorRate, criteria),
  };
};

describe("rate search", () => {
  it("rate search - measures past the first SLO miss and stops at overload", async () => {
    const p99 = new Map([
      [500, 2],
      [1000, 12],
      [2000, 30],
      [4000, 80],
      [8000, 1],
    ]);
    const measured: number[] = [];
    const result = await searchRates([4000, 500, 2000, 1000, 8000], criteria, async (rate) => {
      measured.push(rate);
      return step(rate, p99.get(rate)!);
    });
    expect(measured).toEqual([500, 1000, 2000, 4000]);
    expect(result.maxPassingRate).toBe(500);
    expect(result.sustainedRate).toBe(2000);
  });

  it("rate search - errors above the bound stop the search and fail the step", async () => {
    const result = await searchRates([500, 1000, 2000], criteria, async (rate) =>
      step(rate, 1, rate >= 1000 ? 0.01 : 0),
    );
    expect(result.steps.map((s) => s.passed)).toEqual([true, false]);
    expect(result.sustainedRate).toBe(500);
  });
});
