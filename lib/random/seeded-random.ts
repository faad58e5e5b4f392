/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/**
 * A small, fast, seedable generator (mulberry32, 32-bit state): the same seed gives the same sequence on every
 * machine, which is all demo data, simulations, exploration and tests need. Not for anything secret.
 */
export function createSeededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
