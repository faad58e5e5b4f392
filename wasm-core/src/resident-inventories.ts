import type { InventoryShape } from "./kernel-checks.ts";
import type { KernelInventory } from "./kernel-inputs.ts";

/**
 * Inventories a kernel keeps at hand by default: the decide pipeline's retrieval slices in use (see below). Twice the
 * gateway's default admission limit (gateway/decide/decision-engine.ts residentInventoriesFor): every decision in
 * flight may wait in the kernel's queue for its own slice. About 70 KiB each at 512 candidates of 32 dimensions.
 */
export const DEFAULT_RESIDENT_INVENTORIES = 256;

/**
 * The inventories a kernel may be asked to decide on, by version, oldest first: a gateway with a retrieval stage
 * decides each request on a slice of the catalog (gateway/decide/retrieval.ts), and a few dozen slices are in use
 * at once. The kernel's memory holds one at a time; a request naming another swaps it in (a copy of its
 * features: about 10 us for 1,000 candidates of 32 dimensions). Adding a version again makes it the newest; past
 * `limit` the oldest is dropped. The pool, its workers and the module router add the same inventories in the
 * same order, so they drop the same ones.
 */
export class ResidentInventories {
  readonly #byVersion = new Map<number, KernelInventory>();

  constructor(
    readonly limit = DEFAULT_RESIDENT_INVENTORIES,
    initial: Iterable<KernelInventory> = [],
  ) {
    for (const inventory of initial) this.add(inventory);
  }

  add(inventory: KernelInventory): void {
    this.#byVersion.delete(inventory.version);
    this.#byVersion.set(inventory.version, inventory);
    while (this.#byVersion.size > this.limit) this.#byVersion.delete(this.#byVersion.keys().next().value!);
  }

  get(version: number): KernelInventory | undefined {
    return this.#byVersion.get(version);
  }

  shape(version: number): InventoryShape | undefined {
    const inventory = this.#byVersion.get(version);
    return inventory && { version, candidates: inventory.candidates, dimensions: inventory.dimensions };
  }

  /** The one added last. */
  get latest(): KernelInventory | undefined {
    let last: KernelInventory | undefined;
    for (const inventory of this.#byVersion.values()) last = inventory;
    return last;
  }

  /** Oldest first (the order to add them in elsewhere). */
  values(): KernelInventory[] {
    return [...this.#byVersion.values()];
  }
}
