/**
 * Exponential forgetting in O(1) per observation. Instead of shrinking every count by 2^(-amount/halfLife) at each
 * observation, the clock's weight grows by 2^(amount/halfLife) and a new observation is added with the grown
 * weight; a count divided by the current weight is the decayed ("effective") count. Before the weight can cost
 * precision, it and the counts are divided by it (the `rescale` callback), which changes no effective count.
 *
 * The weight is plain data inside each model's state, so snapshots carry it.
 */
export interface ForgettingWeight {
  weight: number;
}

const RESCALE_ABOVE = 2 ** 32;

/** Advances the clock by `amount` observations and returns the weight to add the new observation with. */
export function advanceForgetting(
  state: ForgettingWeight,
  halfLife: number,
  rescale: (factor: number) => void,
  amount = 1,
): number {
  if (state.weight > RESCALE_ABOVE) {
    rescale(1 / state.weight);
    state.weight = 1;
  }
  state.weight *= 2 ** (amount / halfLife);
  return state.weight;
}

/** Scales every entry of `counts` in place. */
export function scaleCounts(counts: number[], factor: number): void {
  for (let i = 0; i < counts.length; i++) counts[i] *= factor;
}
