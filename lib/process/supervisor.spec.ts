import { afterEach, describe, expect, it } from "vitest";
import { Supervised } from "./supervisor.ts";

/**
 * A real forked child that exits shortly after it is ready: the supervisor starts it again after a backoff that
 * doubles (capped), prints every exit and restart, and reports the crash loop; stop() ends it for good.
 */
describe("supervisor", () => {
  let supervised: Supervised | undefined;
  afterEach(async () => {
    await supervised?.stop();
  });

  it("restarts a child that exits, with doubling backoff, and reports the crash loop", async () => {
    const lines: string[] = [];
    supervised = await Supervised.start(
      { name: "flaky", entry: "lib/process/testing/short-lived-child", env: { CHILD_LIFETIME_MS: "50" } },
      {
        silent: true,
        backoffMs: 100,
        maxBackoffMs: 400,
        loopRestarts: 3,
        loopWindowMs: 60_000,
        report: (l) => lines.push(l),
      },
    );
    const pids = new Set([supervised.pid]);
    const until = Date.now() + 90_000;
    while (supervised.restarts < 4 && Date.now() < until) {
      pids.add(supervised.pid);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(supervised.restarts).toBeGreaterThanOrEqual(4);
    const delays = lines.flatMap((l) => /restart #\d+ in (\d+) ms/.exec(l)?.[1] ?? []).map(Number);
    expect(delays.slice(0, 4)).toEqual([100, 200, 400, 400]);
    expect(lines.some((l) => /flaky \(pid \d+\) exited \(code 3\)/.test(l))).toBe(true);
    expect(lines.some((l) => /flaky restarted \(pid \d+\)/.test(l))).toBe(true);
    expect(lines.some((l) => /flaky is crash-looping: 3 exits within 60 s/.test(l))).toBe(true);
    expect(pids.size).toBeGreaterThan(1);
    await supervised.stop();
    const after = supervised.restarts;
    await new Promise((r) => setTimeout(r, 600));
    expect(supervised.restarts).toBe(after);
  }, 120_000);
});

describe("memory query", () => {
  it("answers process.memoryUsage(), and with afterGc the live heap after a full collection", async () => {
    const child = await Supervised.start(
      { name: "memory", entry: "lib/process/testing/memory-child" },
      { silent: true, report: () => {} },
    );
    try {
      const plain = await child.memoryUsage(10_000);
      expect(plain?.heapUsed).toBeGreaterThan(0);
      expect(plain?.liveHeapUsed).toBeUndefined();
      const collected = await child.memoryUsage(10_000, true);
      // The child holds 400,000 small objects (well over 16 MB) whatever the collector did before.
      expect(collected?.liveHeapUsed).toBeGreaterThan(16 * 2 ** 20);
      expect(collected!.liveHeapUsed!).toBeLessThanOrEqual(collected!.heapTotal);
    } finally {
      await child.stop();
    }
  }, 60_000);
});
