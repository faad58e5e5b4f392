import { describe, expect, it } from "vitest";
import type { LatencySummary } from "./latency-histogram.ts";
import { medianOfRuns } from "./median-of-runs.ts";
import type { RateStep, SearchResult } from "./rate-search.ts";

const step = (rate: number, p50: number, p99: number): RateStep => {
  const latency: LatencySummary = { count: 1, mean: p50, p50, p90: p99, p99, p999: p99, max: p99 };
  const passed = p99 <= 10;
  return {
    rate,
    throughput: rate,
    latency,
    clientLagP99: 0,
    errors: 0,
    errorRate: 0,
    errorSamples: [],
    processes: [],
    passed,
  };
};
const run = (steps: RateStep[], maxPassingRate: number, sustainedRate: number): SearchResult => ({
  steps,
  maxPassingRate,
  sustainedRate,
});

describe("median of runs", () => {
  it("median of runs - keeps, per rate, the real step with the median p99, and the median rates", () => {
    const result = medianOfRuns([
      run([step(100, 1, 5), step(200, 2, 40), step(400, 9, 300)], 100, 400),
      run([step(100, 3, 9), step(200, 4, 12)], 100, 200),
      run([step(100, 2, 30), step(200, 1, 20), step(400, 8, 100)], 0, 400),
    ]);
    // 100/s: p99 5, 9, 30 -> the run with 9 (its p50 3 comes with it); 200/s: 40, 12, 20 -> 20 (p50 1).
    expect(result.steps.map((s) => [s.rate, s.latency.p50, s.latency.p99])).toEqual([
      [100, 3, 9],
      [200, 1, 20],
      [400, 8, 100], // two of three runs got there: the lower median of 300 and 100
    ]);
    expect(result.maxPassingRate).toBe(100);
    expect(result.sustainedRate).toBe(400);
  });

  it("median of runs - a rate only a minority of runs reached is left out; one run is itself", () => {
    const only = run([step(100, 1, 5)], 100, 100);
    expect(medianOfRuns([only])).toBe(only);
    const result = medianOfRuns([
      run([step(100, 1, 5), step(200, 1, 6), step(400, 1, 7)], 400, 400),
      run([step(100, 1, 5)], 100, 100),
      run([step(100, 1, 5), step(200, 1, 60)], 100, 100),
    ]);
    expect(result.steps.map((s) => s.rate)).toEqual([100, 200]);
    expect(() => medianOfRuns([])).toThrow(/no runs/);
  });
});
