/** A metric over seeds: its mean and the 95% confidence interval of the mean (Student's t). */
export interface Estimate {
  mean: number;
  /** 95% confidence interval of the mean: [mean - halfWidth, mean + halfWidth] (0 wide with fewer than 2 values). */
  ci95: [number, number];
  halfWidth: number;
  n: number;
  values: number[];
}

/** Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom; beyond, the normal 1.96 is within 2%. */
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function t95(degreesOfFreedom: number): number {
  return degreesOfFreedom >= 1 ? (T95[degreesOfFreedom - 1] ?? 1.96) : Number.NaN;
}

export function estimate(values: readonly number[]): Estimate {
  const n = values.length;
  const mean = n ? values.reduce((a, b) => a + b, 0) / n : Number.NaN;
  let halfWidth = 0;
  if (n >= 2) {
    const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
    halfWidth = t95(n - 1) * Math.sqrt(variance / n);
  }
  return { mean, ci95: [mean - halfWidth, mean + halfWidth], halfWidth, n, values: [...values] };
}

/** Parses "1-20", "1,3,5" or "2-4,9" into seeds, in order, without repeats. */
export function parseSeeds(raw: string): number[] {
  const seeds = new Set<number>();
  for (const part of raw.split(",").map((p) => p.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new RangeError(`"${part}": seeds are N, N-M or a comma list of those`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new RangeError(`"${part}": the range ends before it starts`);
    if (to - from > 10_000) throw new RangeError(`"${part}": more than 10,000 seeds`);
    for (let s = from; s <= to; s++) seeds.add(s);
  }
  return [...seeds];
}
