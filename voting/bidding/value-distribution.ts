import { advanceForgetting, scaleCounts } from "./forgetting-weight.ts";

/**
 * The values of the opportunities a campaign is offered (predicted response x value per response x its context's
 * calibration, in micros), as a log-spaced histogram with forgetting. Every offer is seen, won or not, so unlike
 * the market price this needs no censoring correction. Pacing plans future spend from it.
 */
export interface ValueDistributionOptions {
  /** Lower edge of the first bucket; smaller values count in it. */
  minValueMicros: number;
  bucketsPerOctave: number;
  /** Range covered: minValueMicros to minValueMicros * 2^octaves; larger values count in the last bucket. */
  octaves: number;
  /** Offers after which an offer counts half. */
  halfLife: number;
}

export interface ValueDistribution {
  counts: number[];
  weight: number;
}

/** One bucket of the distribution: a representative value and its share of offers. */
export interface ValuePoint {
  valueMicros: number;
  share: number;
}

export function createValueDistribution(options: ValueDistributionOptions): ValueDistribution {
  checkValueDistributionOptions(options);
  return { counts: new Array(bucketCount(options)).fill(0), weight: 1 };
}

export function checkValueDistributionOptions(options: ValueDistributionOptions): void {
  const { minValueMicros, bucketsPerOctave, octaves, halfLife } = options;
  if (!(minValueMicros > 0) || !(halfLife > 0)) throw new RangeError("values: minValueMicros and halfLife must be > 0");
  if (!Number.isInteger(bucketsPerOctave) || bucketsPerOctave < 1 || !Number.isInteger(octaves) || octaves < 1)
    throw new RangeError("values: bucketsPerOctave and octaves must be integers >= 1");
}

export function bucketCount(options: ValueDistributionOptions): number {
  return options.bucketsPerOctave * options.octaves;
}

/** An offer worth `valueMicros`. Updates the distribution in place. */
export function recordValue(dist: ValueDistribution, options: ValueDistributionOptions, valueMicros: number): void {
  const last = bucketCount(options) - 1;
  const position = Math.log2(Math.max(valueMicros, options.minValueMicros) / options.minValueMicros);
  const bucket = Math.min(last, Math.floor(position * options.bucketsPerOctave));
  const weight = advanceForgetting(dist, options.halfLife, (f) => scaleCounts(dist.counts, f));
  dist.counts[bucket] += weight;
}

/** The non-empty buckets, each at its geometric middle, with shares summing to 1 (empty when nothing was seen). */
export function valuePoints(dist: ValueDistribution, options: ValueDistributionOptions): ValuePoint[] {
  const total = dist.counts.reduce((a, b) => a + b, 0);
  const points: ValuePoint[] = [];
  if (!(total > 0)) return points;
  dist.counts.forEach((count, bucket) => {
    if (count > 0)
      points.push({
        valueMicros: options.minValueMicros * 2 ** ((bucket + 0.5) / options.bucketsPerOctave),
        share: count / total,
      });
  });
  return points;
}
