import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSeededRandom } from "./seeded-random.ts";
import {
  createValueCalibration,
  meanMultiplier,
  recordExposure,
  recordResponses,
  sampleMultiplier,
  type ValueCalibrationOptions,
} from "./value-calibration.ts";

const options: ValueCalibrationOptions = {
  priorResponses: 20,
  halfLife: 1000,
  maxExploration: 0.2,
  minMultiplier: 0.25,
  maxMultiplier: 4,
};

describe("value calibration - Thompson-sampled context multiplier", () => {
  it("starts at 1 and moves up with more responses than predicted, down with fewer", () => {
    const rich = createValueCalibration();
    const poor = createValueCalibration();
    expect(meanMultiplier(rich, options)).toBe(1);
    for (let i = 0; i < 100; i++) {
      recordExposure(rich, options, 0.5);
      recordExposure(poor, options, 0.5);
    }
    recordResponses(rich, 100); // 2x the 50 predicted
    recordResponses(poor, 10); // 0.2x
    expect(meanMultiplier(rich, options)).toBeCloseTo((20 + 100) / (20 + 50), 1);
    expect(meanMultiplier(poor, options)).toBeCloseTo((20 + 10) / (20 + 50), 1);
  });

  it("keeps every draw within the exploration bounds around the mean and the global bounds", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.double({ min: 0, max: 500, noNaN: true }),
        fc.double({ min: 0, max: 500, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (seed, exposure, responses, maxExploration) => {
          const bounded = { ...options, maxExploration };
          const calibration = createValueCalibration();
          recordExposure(calibration, bounded, exposure);
          recordResponses(calibration, responses);
          const mean = meanMultiplier(calibration, { ...bounded, minMultiplier: 0, maxMultiplier: Infinity });
          const random = createSeededRandom(seed);
          for (let i = 0; i < 20; i++) {
            const draw = sampleMultiplier(calibration, bounded, random);
            expect(draw).toBeGreaterThanOrEqual(bounded.minMultiplier);
            expect(draw).toBeLessThanOrEqual(bounded.maxMultiplier);
            if (mean >= bounded.minMultiplier && mean <= bounded.maxMultiplier) {
              expect(draw).toBeGreaterThanOrEqual(mean / (1 + maxExploration) - 1e-12);
              expect(draw).toBeLessThanOrEqual(mean * (1 + maxExploration) + 1e-12);
            }
          }
        },
      ),
    );
  });

  it("explores less as evidence accumulates, and not at all with maxExploration 0", () => {
    const spread = (exposure: number) => {
      const calibration = createValueCalibration();
      recordExposure(calibration, options, exposure);
      recordResponses(calibration, exposure);
      const random = createSeededRandom(11);
      const draws = Array.from({ length: 2000 }, () => sampleMultiplier(calibration, options, random));
      return Math.max(...draws) - Math.min(...draws);
    };
    expect(spread(5000)).toBeLessThan(spread(0) / 2);
    const fixed = createValueCalibration();
    expect(sampleMultiplier(fixed, { ...options, maxExploration: 0 }, createSeededRandom(1))).toBe(1);
  });

  it("forgets old evidence at the pace new exposure arrives", () => {
    const calibration = createValueCalibration();
    recordExposure(calibration, options, 200);
    recordResponses(calibration, 400);
    const early = meanMultiplier(calibration, options);
    for (let i = 0; i < 30; i++) recordExposure(calibration, options, 100); // three half-lives, no responses
    expect(early).toBeGreaterThan(1.5);
    expect(meanMultiplier(calibration, options)).toBeLessThan(0.3);
  });
});
