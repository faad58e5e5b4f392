import { describe, expect, it } from "vitest";
import { summarize } from "./latency-histogram.ts";
import { runOpenLoop } from "./open-loop.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe("open loop", () => {
  it("open loop - keeps the arrival schedule while responses are slow", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const result = await runOpenLoop({
      rate: 200,
      durationMs: 500,
      send: async () => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await sleep(100);
        inFlight--;
      },
    });
    expect(result.issued).toBe(100);
    expect(result.completed).toBe(100);
    // A closed loop would have one request in flight; 100 ms responses at 200/s keep about 20 in flight.
    expect(maxInFlight).toBeGreaterThanOrEqual(15);
    expect(result.elapsedMs).toBeLessThan(900);
    expect(summarize(result.latency).p50).toBeGreaterThanOrEqual(99);
  });

  it("open loop - a stall counts against every request scheduled during it (no coordinated omission)", async () => {
    let n = 0;
    const result = await runOpenLoop({
      rate: 500,
      durationMs: 400,
      send: async () => {
        // The 20th request stalls the process for 60 ms; the sends due meanwhile go out late.
        if (++n === 20) {
          const until = performance.now() + 60;
          while (performance.now() < until);
        }
      },
    });
    const latency = summarize(result.latency);
    expect(result.completed).toBe(200);
    expect(latency.max).toBeGreaterThanOrEqual(50);
    // About 30 requests were due during the stall: at least 10% of all saw >= 10 ms.
    expect(result.latency.getValueAtPercentile(90)).toBeGreaterThanOrEqual(10_000);
    expect(summarize(result.sendLag).max).toBeGreaterThanOrEqual(50);
  });

  it("open loop - counts failures and keeps a few messages", async () => {
    let n = 0;
    const result = await runOpenLoop({
      rate: 1000,
      durationMs: 100,
      send: async () => {
        if (++n % 10 === 0) throw new Error("http 503");
      },
    });
    expect(result.errors).toBe(10);
    expect(result.completed).toBe(90);
    expect(result.errorSamples).toEqual(["http 503"]);
  });

  it("open loop - rejects a rate that is not positive", () => {
    expect(() => runOpenLoop({ rate: 0, durationMs: 10, send: async () => {} })).toThrow(RangeError);
  });
});
