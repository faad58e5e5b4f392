import type { SpendGuard } from "../../ledger/ports.ts";
import { campaignSlots } from "../../lib/catalog/campaign-slots.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";

/** Each of the inventory's campaigns' lease headroom, by campaign slot (lib/catalog/campaign-slots.ts). */
export type LeaseHeadroom = readonly bigint[];

/**
 * The spend stage before the kernel request: each candidate campaign's lease headroom, read once per decision.
 * Reading may make the guard ask the Budget agent for a new lease in the background (its renewal policy); the
 * snapshot is what this decision sells within, and the kernel request is built from it without side effects.
 * By campaign slot, so the kernel request reads it per candidate by index (a Map by campaign id cost three hash
 * lookups per candidate).
 */
export function leaseHeadroom(inventory: Inventory, spendGuard: SpendGuard): LeaseHeadroom {
  const { campaigns } = campaignSlots(inventory);
  const headroom = new Array<bigint>(campaigns.length);
  for (let s = 0; s < campaigns.length; s++) headroom[s] = spendGuard.headroom(campaigns[s]!.id);
  return headroom;
}
