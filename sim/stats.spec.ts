import { describe, expect, it } from "vitest";
import { estimate, parseSeeds, t95 } from "./stats.ts";

describe("sim statistics", () => {
  it("the 95% interval of a mean uses Student's t: for 1, 2, 3, 4, 5 it is 3 +- 1.963", () => {
    const e = estimate([1, 2, 3, 4, 5]);
    expect(e.mean).toBe(3);
    // sd = sqrt(2.5), se = sqrt(0.5), t(4) = 2.776
    expect(e.halfWidth).toBeCloseTo(2.776 * Math.sqrt(0.5), 6);
    expect(e.ci95[0]).toBeCloseTo(3 - e.halfWidth, 9);
    expect(t95(19)).toBe(2.093);
    expect(t95(100)).toBe(1.96);
  });

  it("one value has no width; constant values have none either", () => {
    expect(estimate([7]).halfWidth).toBe(0);
    expect(estimate([2, 2, 2]).ci95).toEqual([2, 2]);
  });

  it("seed lists: ranges, lists, no repeats, clear errors", () => {
    expect(parseSeeds("1-5")).toEqual([1, 2, 3, 4, 5]);
    expect(parseSeeds("2-4,9,3")).toEqual([2, 3, 4, 9]);
    expect(() => parseSeeds("5-1")).toThrow(/ends before/);
    expect(() => parseSeeds("a")).toThrow(/seeds are/);
  });
});
