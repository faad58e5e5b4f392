import { createSeededRandom } from "../../lib/random/seeded-random.ts";

/** Seeded randomness with the draws the world needs. Independent streams keep one part's draws from shifting another's. */
export class Rng {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = createSeededRandom(seed);
  }

  /** A new independent stream, derived from this seed and a label. */
  static stream(seed: number, label: string): Rng {
    let h = seed >>> 0;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
    return new Rng(h);
  }

  uniform(min = 0, max = 1): number {
    return min + (max - min) * this.next();
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  normal(mean = 0, sd = 1): number {
    // Box-Muller; 1 - u keeps log away from 0.
    const u = 1 - this.next();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  logNormal(median: number, sigma: number): number {
    return median * Math.exp(this.normal(0, sigma));
  }
}
