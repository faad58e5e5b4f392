import type { Campaign } from "../../gen/chorus/v1/campaign_pb.ts";
import type { Inventory } from "./inventory.ts";

/**
 * The inventory's campaigns, each with a dense slot, and the slot of every candidate: per-campaign work in a vote
 * (targeting, bidding) indexes arrays instead of hashing campaign ids per candidate. Computed once per inventory.
 */
export interface CampaignSlots {
  readonly campaigns: readonly Campaign[];
  /** Slot of the candidate at each inventory index. */
  readonly slotOf: Uint32Array;
  readonly slotById: ReadonlyMap<string, number>;
}

const slotsByInventory = new WeakMap<Inventory, CampaignSlots>();

export function campaignSlots(inventory: Inventory): CampaignSlots {
  let slots = slotsByInventory.get(inventory);
  if (slots) return slots;
  const campaigns: Campaign[] = [];
  const slotById = new Map<string, number>();
  const slotOf = new Uint32Array(inventory.size);
  for (const c of inventory.candidates) {
    let slot = slotById.get(c.campaign.id);
    if (slot === undefined) {
      slot = campaigns.push(c.campaign) - 1;
      slotById.set(c.campaign.id, slot);
    }
    slotOf[c.index] = slot;
  }
  slots = { campaigns, slotOf, slotById };
  slotsByInventory.set(inventory, slots);
  return slots;
}
