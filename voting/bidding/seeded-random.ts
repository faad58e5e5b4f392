import type { Random } from "../../lib/random/seeded-random.ts";

export { createSeededRandom, type Random } from "../../lib/random/seeded-random.ts";

/** A standard normal draw (Box-Muller; one of the pair is dropped to keep the generator stateless). */
export function sampleStandardNormal(random: Random): number {
  const u = 1 - random(); // (0, 1]: log(0) never happens
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/**
 * A Gamma(shape, rate) draw by Marsaglia and Tsang's method (ACM TOMS 2000); shape < 1 uses the boost
 * Gamma(a) = Gamma(a + 1) * U^(1/a).
 */
export function sampleGamma(random: Random, shape: number, rate: number): number {
  if (!(shape > 0) || !(rate > 0)) throw new RangeError(`sampleGamma: shape and rate must be > 0 (${shape}, ${rate})`);
  if (shape < 1) return sampleGamma(random, shape + 1, rate) * (1 - random()) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = sampleStandardNormal(random);
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = 1 - random();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return (d * v) / rate;
  }
}
