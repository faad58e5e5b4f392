import type { Inventory } from "../../lib/catalog/inventory.ts";
import type { KernelInventory, KernelRequest, KernelResult } from "../../wasm-core/src/kernel-inputs.ts";

/**
 * What the decision engine needs from the kernel: wasm-core's KernelPool satisfies it (pool or inline mode), so
 * the engine never depends on how the kernel runs.
 */
export interface Kernel {
  /** Makes an inventory (a retrieval slice) resident beside the ones added before; the oldest are dropped. */
  setInventory(inventory: KernelInventory): void;
  /** How many inventories it keeps resident (default DEFAULT_RESIDENT_INVENTORIES). */
  readonly residentLimit?: number;
  /**
   * `decisionId` (the run id) lets a router keep canary routing consistent: every gateway sends a given decision
   * to the same module version (modules/module-router.ts).
   */
  decide(request: KernelRequest, decisionId?: string): Promise<KernelResult>;
}

/** The kernel names inventories by a non-negative 32-bit version; the catalog's low 32 bits are its content hash. */
export function kernelInventoryVersion(inventory: Inventory): number {
  return inventory.version % 2 ** 32;
}

export function toKernelInventory(inventory: Inventory): KernelInventory {
  const a = inventory.arrays;
  return {
    version: kernelInventoryVersion(inventory),
    candidates: a.count,
    dimensions: a.dim,
    embeddings: a.embeddings,
    durationMs: a.durationMs,
    advertiserId: a.advertiserId,
    categoryId: a.categoryId,
  };
}

/**
 * Keeps the inventories a decision uses resident in the kernel (`limit`: how many the kernel keeps, the last adds):
 * `ensure(inventory)` adds one not added within the last limit/2 adds before it is used. Throws for an inventory
 * beyond the kernel's capacity.
 */
export function residentInventories(kernel: Kernel, limit: number): (inventory: Inventory) => void {
  const resident = new Map<number, number>();
  let adds = 0;
  return (inventory) => {
    const at = resident.get(inventory.version);
    if (at !== undefined && adds - at < limit / 2) return;
    kernel.setInventory(toKernelInventory(inventory));
    resident.delete(inventory.version);
    resident.set(inventory.version, ++adds);
    if (resident.size > limit) resident.delete(resident.keys().next().value!);
  };
}
