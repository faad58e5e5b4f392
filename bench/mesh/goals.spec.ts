import { describe, expect, it } from "vitest";
import type { RateStep } from "../lib/rate-search.ts";
import { checkGoals, type TargetResult } from "./goals.ts";

const step = (rate: number, p50: number, p99: number): RateStep => ({
  rate,
  throughput: rate,
  latency: { count: 1, mean: p50, p50, p90: p99, p99, p999: p99, max: p99 },
  clientLagP99: 0,
  errors: 0,
  errorRate: 0,
  errorSamples: [],
  processes: [],
  passed: p99 <= 10,
});
const target = (name: string, steps: RateStep[], sustainedRate: number): TargetResult => ({
  name,
  steps,
  maxPassingRate: 0,
  sustainedRate,
});

describe("bench goals", () => {
  it("bench goals - checks each of the issue's targets against the measured steps", () => {
    const goals = checkGoals(
      new Map([
        ["cached", target("cached", [step(500, 1, 2), step(2500, 2, 9)], 6000)],
        ["parallel", target("parallel", [step(500, 3, 8), step(1000, 4, 16)], 2000)],
        ["sequential", target("sequential", [step(500, 6, 12)], 500)],
      ]),
      500,
    );
    expect(goals.map((g) => g.met)).toEqual([true, true, false, false, true]);
    expect(goals[4]!.measured).toBe("3 / 6 ms = 0.50x");
  });

  it("bench goals - a mode that failed or did not reach a rate is not a pass", () => {
    const goals = checkGoals(
      new Map([
        ["cached", { ...target("cached", [], 0), error: "mesh did not start" }],
        ["parallel", target("parallel", [step(500, 3, 8)], 500)],
      ]),
      500,
    );
    expect(goals[0]!.met).toBeUndefined();
    expect(goals[3]).toMatchObject({ measured: "rate not reached", met: false });
    expect(goals[4]!.met).toBeUndefined();
  });
});
