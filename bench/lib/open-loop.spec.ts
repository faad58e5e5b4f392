import { describe, expect, it } from "vitest";
import { blockLoop } from "../../lib/testing/block-loop.ts";
import { arrivalSchedule } from "./arrival-schedule.ts";
import { summarize } from "./latency-histogram.ts";
import { type Done, type OpenLoopResult, runOpenLoop } from "./open-loop.ts";

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
          blockLoop(60);
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

  it("open loop - tells refusals and timeouts from other failures, and times refusals apart from answers", async () => {
    let n = 0;
    const result = await runOpenLoop({
      rate: 1000,
      durationMs: 100,
      send: (done) => {
        const i = n++;
        if (i % 4 === 1) setTimeout(() => done("grpc-status 8", 0), 1);
        else if (i % 4 === 2) setTimeout(() => done("grpc-status 14", 0), 1);
        else if (i % 20 === 3) done("timeout", 0);
        else if (i % 20 === 7) done("grpc-status 13", 0);
        else setTimeout(() => done(undefined, -1), 30);
      },
    });
    expect(result.errorCounts).toEqual({ "grpc-status 8": 25, "grpc-status 14": 25, timeout: 5, "grpc-status 13": 5 });
    expect(result).toMatchObject({ completed: 40, errors: 60, timeouts: 5 });
    expect(result.refusals.totalCount).toBe(50);
    expect(summarize(result.latency).p50).toBeGreaterThanOrEqual(29);
    expect(summarize(result.refusals).p50).toBeLessThan(25);
  });

  it("open loop - windows: each call counted once, in the window it settles in, the last window partial", async () => {
    const windows: [number, OpenLoopResult][] = [];
    const result = await runOpenLoop({
      rate: 200,
      durationMs: 500,
      send: (done) => setTimeout(() => done(undefined, -1), 50),
      windowMs: 200,
      onWindow: (w, i) => windows.push([i, w]),
    });
    // Two full windows, then the rest (more full ones only if this machine stalled the test for long).
    expect(windows.length).toBeGreaterThanOrEqual(3);
    expect(windows.map(([i]) => i)).toEqual(windows.map((_, i) => i));
    expect(windows[0]![1].elapsedMs).toBe(200);
    expect(windows.at(-1)![1].elapsedMs).toBeLessThanOrEqual(200);
    expect(windows.reduce((a, [, w]) => a + w.issued, 0)).toBe(100);
    expect(windows.reduce((a, [, w]) => a + w.completed, 0)).toBe(result.completed);
    expect(windows.reduce((a, [, w]) => a + w.latency.totalCount, 0)).toBe(100);
  });

  it("open loop - a ramp starts at a tenth of the rate, reaches all of it, and keeps exact due times", () => {
    const s = arrivalSchedule(100, 2_000, 1_000);
    // 1 s ramping from 10/s to 100/s (55 arrivals), then 1 s at 100/s.
    expect(s.total).toBe(155);
    expect(s.arrivals(100)).toBeCloseTo(1.45, 5);
    for (const k of [0, 1, 10, 54, 55, 56, 154]) expect(s.arrivals(s.at(k))).toBeCloseTo(k, 6);
    const flat = arrivalSchedule(100, 1_000);
    expect(flat.total).toBe(100);
    expect(flat.at(7)).toBeCloseTo(70, 9);
  });

  it("open loop - rejects a rate that is not positive", () => {
    expect(() => runOpenLoop({ rate: 0, durationMs: 10, send: (done) => done(undefined, -1) })).toThrow(RangeError);
  });
});
