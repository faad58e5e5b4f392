import { afterEach, describe, expect, it } from "vitest";
import { LoopLag } from "./loop-lag.ts";

describe("loop lag", () => {
  const lag = new LoopLag(20);
  afterEach(() => lag.stop());

  it("loop lag - small while the loop is free, the busy time at once while it is blocked, small again after", async () => {
    expect(lag.lagMs).toBe(0); // not started
    lag.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(lag.lagMs).toBeLessThan(60);
    const until = performance.now() + 250;
    while (performance.now() < until);
    // No tick could run meanwhile: the overdue tick shows the lag already.
    expect(lag.lagMs).toBeGreaterThan(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(lag.lagMs).toBeLessThan(60);
  });
});
