import { describe, expect, it } from "vitest";
import { summarize } from "./latency-histogram.ts";
import { type Done, runOpenLoop } from "./open-loop.ts";

/** A send written as an async function: its result or error reaches the loop through `done`. */
const viaPromise =
  (body: () => Promise<number | undefined>) =>
  (done: Done): void => {
    body().then(
      (ads) => done(undefined, ads ?? -1),
      (err: Error) => done(err.message, 0),
    );
  };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe("open loop", () => {
  it("open loop - keeps the arrival schedule while responses are slow", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const result = await runOpenLoop({
      rate: 200,
      durationMs: 500,
      send: viaPromise(async () => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await sleep(100);
        inFlight--;
        return undefined;
      }),
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
      send: viaPromise(async () => {
        // The 20th request stalls the process for 60 ms; the sends due meanwhile go out late.
        if (++n === 20) {
          const until = performance.now() + 60;
          while (performance.now() < until);
        }
        return undefined;
      }),
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
      send: viaPromise(async () => {
        if (++n % 10 === 0) throw new Error("http 503");
        return undefined;
      }),
    });
    expect(result.errors).toBe(10);
    expect(result.completed).toBe(90);
    expect(result.errorSamples).toEqual(["http 503"]);
  });

  it("open loop - counts the decisions that sold and their ads", async () => {
    let n = 0;
    const result = await runOpenLoop({
      rate: 1000,
      durationMs: 100,
      send: (done) => {
        const ads = n++ % 4; // 0, 1, 2, 3 ads in turn
        setTimeout(() => done(undefined, ads), 1);
      },
    });
    expect(result.completed).toBe(100);
    expect(result.sold).toBe(75);
    expect(result.ads).toBe(150);
  });

  it("open loop - a phase shifts the whole schedule", async () => {
    const sentAt: number[] = [];
    const started = performance.now();
    await runOpenLoop({
      rate: 100,
      durationMs: 50,
      phaseMs: 30,
      send: (done) => {
        sentAt.push(performance.now() - started);
        done(undefined, -1);
      },
    });
    expect(sentAt).toHaveLength(5);
    expect(sentAt[0]).toBeGreaterThanOrEqual(29);
  });

  it("open loop - rejects a rate that is not positive", () => {
    expect(() => runOpenLoop({ rate: 0, durationMs: 10, send: (done) => done(undefined, -1) })).toThrow(RangeError);
  });
});
