import { afterEach, describe, expect, it } from "vitest";
import { blockLoop, nextTurn } from "../testing/block-loop.ts";
import { LoopLag } from "./loop-lag.ts";

describe("loop lag", () => {
  const lag = new LoopLag(20);
  afterEach(() => lag.stop());

  it("loop lag - small while the loop is free, the busy time at once while it is blocked, small again after", async () => {
    expect(lag.lagMs).toBe(0); // not started
    lag.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(lag.lagMs).toBeLessThan(60);
    blockLoop(250);
    // No tick could run meanwhile: the overdue tick shows the lag already.
    expect(lag.lagMs).toBeGreaterThan(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(lag.lagMs).toBeLessThan(60);
  });

  it("loop lag - behind: one stall is not behind; late at two ticks in a row, or one turn past the stall bound, is", async () => {
    lag.start();
    await new Promise((r) => setTimeout(r, 100));
    // One stall: late now, before any tick ran, and after the late tick ran, but not behind.
    blockLoop(150);
    expect(lag.lagMs).toBeGreaterThan(100);
    expect(lag.behindMs(100, 400)).toBe(0);
    await nextTurn();
    expect(lag.lagMs).toBeGreaterThan(100);
    expect(lag.behindMs(100, 400)).toBe(0);
    // Caught up: a tick on time follows.
    await new Promise((r) => setTimeout(r, 60));
    expect(lag.behindMs(100, 400)).toBe(0);
    // Stalled at tick after tick: behind, by the lag.
    blockLoop(150);
    await nextTurn();
    blockLoop(150);
    await nextTurn();
    expect(lag.behindMs(100, 400)).toBeGreaterThan(100);
    await new Promise((r) => setTimeout(r, 100));
    expect(lag.behindMs(100, 400)).toBe(0);
    // One turn far past the stall bound (a flood read in one go): behind before any tick could run.
    blockLoop(450);
    expect(lag.behindMs(100, 400)).toBeGreaterThan(400);
  });

  it("loop lag - parks its timer when nobody reads it, and starts it again (reading 0) on the next read", async () => {
    const idle = new LoopLag(20, 150).start();
    try {
      expect(idle.ticking).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      expect(idle.ticking).toBe(false);
      const parkedAt = idle.ticks;
      await new Promise((r) => setTimeout(r, 100));
      expect(idle.ticks).toBe(parkedAt);
      expect(idle.lagMs).toBe(0);
      expect(idle.ticking).toBe(true);
      // Read often enough, it keeps ticking and measures again.
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 50));
        expect(idle.lagMs).toBeLessThan(100);
      }
      expect(idle.ticking).toBe(true);
      expect(idle.ticks).toBeGreaterThan(parkedAt + 3);
      blockLoop(250);
      expect(idle.lagMs).toBeGreaterThan(200);
    } finally {
      idle.stop();
    }
    expect(idle.ticking).toBe(false);
    expect(idle.lagMs).toBe(0);
  });
});
