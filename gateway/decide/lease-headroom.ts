import type { SpendGuard } from "../../ledger/ports.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";

/**
 * The spend stage before the kernel request: each candidate campaign's lease headroom, read once per decision.
 * Reading may make the guard ask the Budget agent for a new lease in the background (its renewal policy); the
 * snapshot is what this decision sells within, and the kernel request is built from it without side effects.
 */
export function leaseHeadroom(inventory: Inventory, spendGuard: SpendGuard): Map<string, bigint> {
  const headroom = new Map<string, bigint>();
  for (const c of inventory.candidates) {
    const id = c.campaign.id;
    if (!headroom.has(id)) headroom.set(id, spendGuard.headroom(id));
  }
  return headroom;
}
