import { describe, expect, it } from "vitest";
import type { RateStep } from "../lib/rate-search.ts";
import { BARE_ECHO, checkGoals, cpuPerDecisionUs, FANOUT_CEILING, type TargetResult } from "./goals.ts";

const step = (rate: number, p50: number, p99: number, more: Partial<RateStep> = {}): RateStep => ({
  rate,
  throughput: rate,
  latency: { count: 1, mean: p50, p50, p90: p99, p99, p999: p99, max: p99 },
  clientLagP99: 0,
  errors: 0,
  errorRate: 0,
  errorSamples: [],
  processes: [],
  passed: p99 <= 10,
  ...more,
});
const target = (name: string, steps: RateStep[], sustainedRate: number, more: Partial<TargetResult> = {}) => ({
  name,
  steps,
  maxPassingRate: 0,
  sustainedRate,
  ...more,
});
const cpu = (gateway: number, others: number, client: number) => [
  { name: "gateway", pid: 1, cpuPercent: gateway, peakRssMb: 1 },
  { name: "nats-server", pid: 2, cpuPercent: others, peakRssMb: 1 },
  { name: "load-client", pid: 3, cpuPercent: client, peakRssMb: 1 },
];

describe("bench goals", () => {
  it("bench goals - CPU per decision leaves the load client out", () => {
    // 1,000/s: 30% of a core is 300 µs per decision; the client's 40% is not the mesh's.
    const s = step(1000, 1, 2, { processes: cpu(30, 15, 40) });
    expect(cpuPerDecisionUs(s)).toBe(450);
    expect(cpuPerDecisionUs(s, "gateway")).toBe(300);
  });

  it("bench goals - checks each of the issue's targets against the measured steps", () => {
    const goals = checkGoals(
      new Map([
        [
          "cached",
          target(
            "cached",
            [
              step(100, 0.4, 1, { soldShare: 0.45 }),
              step(1000, 1, 8, { processes: cpu(30, 15, 3), soldShare: 0.44, clientCpuUs: 30 }),
              step(2000, 3, 30, { soldShare: 0.46, clientCpuUs: 40 }),
            ],
            3000,
            { idle: cpu(1, 0.5, 0).slice(0, 2) },
          ),
        ],
        [BARE_ECHO, target(BARE_ECHO, [step(100, 0.25, 0.5)], 6000)],
        // The fan-out ceiling's requester is a NATS client, not the HTTP/2 load client the goal is about.
        [FANOUT_CEILING, target(FANOUT_CEILING, [step(1000, 1, 5, { clientCpuUs: 364 })], 2000)],
        ["parallel", target("parallel", [step(100, 3, 8, { processes: cpu(100, 50, 1) }), step(1000, 4, 16)], 100)],
        ["sequential", target("sequential", [step(100, 6, 12)], 500)],
      ]),
      100,
    );
    const met = Object.fromEntries(goals.map((g) => [g.goal, g.met]));
    expect(met).toEqual({
      "cached: CPU per decision at 1,000/s, whole mesh <= 500 µs": true,
      "cached: CPU per decision at 1,000/s, gateway <= 330 µs": true,
      "cached: at least 3,000 decisions/s sustained": true,
      "cached: p99 <= 10 ms at 1,000/s": true,
      "cached: p99 <= 25 ms at 2,000/s": false,
      "cached p50 <= 2 x bare node:http2 echo p50 (at 100/s)": true,
      "idle mesh <= 2% of a core": true,
      "parallel: CPU per decision across processes <= 2 ms": false,
      "parallel p50 <= 0.6 x sequential p50 (at 100/s)": true,
      "load client <= 50 µs CPU per request (steps at 1,000/s and up)": true,
      "cached: sold share stationary (spread across a search's steps <= 0.05)": true,
    });
    expect(goals.find((g) => g.goal.startsWith("cached p50"))!.measured).toBe("0.4 / 0.25 ms = 1.60x");
    expect(goals.find((g) => g.goal.startsWith("parallel: CPU"))!.measured).toBe("15000 µs at 100/s");
  });

  it("bench goals - a mode that failed or did not reach a rate is not a pass", () => {
    const goals = checkGoals(
      new Map([
        ["cached", { ...target("cached", [], 0), error: "mesh did not start" }],
        ["parallel", target("parallel", [step(100, 3, 8)], 100)],
      ]),
      100,
    );
    expect(goals[0]!.met).toBeUndefined();
    expect(goals[3]!.met).toBeUndefined();
    expect(goals.find((g) => g.goal.startsWith("parallel p50"))!.met).toBeUndefined();
    expect(goals.find((g) => g.goal.startsWith("load client"))).toMatchObject({ met: undefined });
  });
});
