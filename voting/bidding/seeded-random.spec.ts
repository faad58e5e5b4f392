import { describe, expect, it } from "vitest";
import { createSeededRandom, sampleGamma } from "./seeded-random.ts";

describe("seeded random - determinism and distributions", () => {
  it("repeats a sequence for a seed and differs across seeds", () => {
    const a = createSeededRandom(42);
    const b = createSeededRandom(42);
    const c = createSeededRandom(43);
    const first = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(first);
    expect(Array.from({ length: 5 }, c)).not.toEqual(first);
    for (const x of first) expect(x >= 0 && x < 1).toBe(true);
  });

  it("draws Gamma(shape, rate) with the right mean and variance, also for shape < 1", () => {
    const random = createSeededRandom(7);
    for (const [shape, rate] of [
      [20, 20],
      [0.5, 2],
      [3, 0.1],
    ] as const) {
      const draws = Array.from({ length: 20_000 }, () => sampleGamma(random, shape, rate));
      const mean = draws.reduce((s, x) => s + x, 0) / draws.length;
      const variance = draws.reduce((s, x) => s + (x - mean) ** 2, 0) / draws.length;
      expect(Math.abs(mean / (shape / rate) - 1)).toBeLessThan(0.03);
      expect(Math.abs(variance / (shape / rate ** 2) - 1)).toBeLessThan(0.08);
    }
  });

  it("rejects a non-positive shape or rate", () => {
    expect(() => sampleGamma(createSeededRandom(1), 0, 1)).toThrow(RangeError);
    expect(() => sampleGamma(createSeededRandom(1), 1, -1)).toThrow(RangeError);
  });
});
