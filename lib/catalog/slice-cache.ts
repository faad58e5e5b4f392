import { Inventory } from "./inventory.ts";

/** Most candidates a slice may name (the kernel's default capacity). */
export const MAX_SLICE_CANDIDATES = 4_096;

/**
 * An agent's copies of the gateway's retrieval slices (Inventory.slice), by catalog and indices, LRU: decisions of
 * one retrieval key name the same slice, and the agent's per-inventory caches (targeting verdicts, campaign slots)
 * live as long as its slice object.
 */
export class SliceCache {
  readonly #slices = new Map<string, Inventory>();
  #catalog: Inventory | undefined;

  constructor(readonly limit = 256) {}

  /** The slice, or undefined when `indices` are not ascending indices of the catalog (or too many). */
  get(catalog: Inventory, indices: readonly number[]): Inventory | undefined {
    if (indices.length > MAX_SLICE_CANDIDATES) return undefined;
    if (catalog !== this.#catalog) {
      this.#slices.clear();
      this.#catalog = catalog;
    }
    let hash = 0x811c9dc5;
    let previous = -1;
    for (const i of indices) {
      if (!(i > previous && i < catalog.size)) return undefined;
      previous = i;
      hash = Math.imul(hash ^ i, 0x01000193);
    }
    const key = `${hash >>> 0}:${indices.length}:${indices[0]}:${previous}`;
    let slice = this.#slices.get(key);
    if (slice && !sameIndices(slice.catalogIndex!, indices)) slice = undefined;
    if (slice) {
      this.#slices.delete(key);
    } else {
      slice = Inventory.slice(catalog, Uint32Array.from(indices));
    }
    this.#slices.set(key, slice);
    if (this.#slices.size > this.limit) this.#slices.delete(this.#slices.keys().next().value!);
    return slice;
  }
}

function sameIndices(a: Uint32Array, b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
