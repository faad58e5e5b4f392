import type { Inventory } from "../../lib/catalog/inventory.ts";
import type { KernelInventory, KernelRequest, KernelResult } from "../../wasm-core/src/kernel-inputs.ts";

/**
 * What the decision engine needs from the kernel: wasm-core's KernelPool satisfies it (pool or inline mode), so
 * the engine never depends on how the kernel runs.
 */
export interface Kernel {
  /** Makes an inventory (a retrieval slice) resident beside the ones added before; the oldest are dropped. */
  setInventory(inventory: KernelInventory): void;
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
