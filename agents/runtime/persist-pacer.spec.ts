import { describe, expect, it } from "vitest";
import { PersistPacer } from "./persist-pacer.ts";

describe("PersistPacer", () => {
  it("lets a cheap round run again at the next interval", () => {
    const pacer = new PersistPacer(20);
    expect(pacer.mayRun(0)).toBe(true);
    pacer.ran(1_000, 1_005); // 5 ms: the next may start 100 ms after this one began
    expect(pacer.mayRun(1_099)).toBe(false);
    expect(pacer.mayRun(2_000)).toBe(true);
  });

  it("spaces expensive rounds so that they use at most 1/costFactor of the time", () => {
    const pacer = new PersistPacer(20);
    let now = 0;
    let busy = 0;
    // One timer tick a second over ten minutes; each round costs 480 ms (16 shards of a large Intent state).
    for (let tick = 0; tick < 600; tick++, now += 1_000) {
      if (!pacer.mayRun(now)) continue;
      pacer.ran(now, now + 480);
      busy += 480;
    }
    expect(busy / now).toBeLessThanOrEqual(1 / 20 + 0.001);
    expect(busy).toBeGreaterThan(0);
  });
});
