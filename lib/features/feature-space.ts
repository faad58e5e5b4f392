/**
 * The feature space shared by user intent vectors and ad embeddings: hashed features (the hashing trick with a
 * sign bit, so collisions cancel on average instead of adding up), L2-normalised, so that
 * dot(intent, embedding) is a cosine-like affinity in [-1, 1] the kernel can compute with SIMD.
 */
export const DEFAULT_DIM = 32;

export type WeightedFeature = readonly [name: string, weight: number];

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function featureSlot(name: string, dim: number): { index: number; sign: 1 | -1 } {
  const h = fnv1a(name);
  return { index: h % dim, sign: h & 0x80000000 ? -1 : 1 };
}

/** Writes the normalised embedding of `features` into `out` (length dim) and returns it. */
export function embed(
  features: Iterable<WeightedFeature>,
  dim = DEFAULT_DIM,
  out = new Float32Array(dim),
): Float32Array {
  out.fill(0);
  for (const [name, weight] of features) {
    const { index, sign } = featureSlot(name, dim);
    out[index]! += sign * weight;
  }
  let norm = 0;
  for (let i = 0; i < dim; i++) norm += out[i]! * out[i]!;
  if (norm > 0) {
    const inv = 1 / Math.sqrt(norm);
    for (let i = 0; i < dim; i++) out[i]! *= inv;
  }
  return out;
}

/** Feature names, so that the Intent agent (listening) and the catalog (targeting) hash the same strings. */
export const feature = {
  genre: (genre: string) => `genre:${genre.trim().toLowerCase()}`,
  mood: (mood: string) => `mood:${mood.trim().toLowerCase()}`,
  category: (iabCategory: string) => `iab:${topLevelCategory(iabCategory)}`,
  contentKind: (kind: number) => `kind:${kind}`,
};

/** "IAB2-3" -> "IAB2": competitive separation and category features use the top-level IAB category. */
export function topLevelCategory(iabCategory: string): string {
  const dash = iabCategory.indexOf("-");
  return dash < 0 ? iabCategory : iabCategory.slice(0, dash);
}
