import { type Campaign, type Creative, EntityStatus } from "../../gen/chorus/v1/campaign_pb.ts";
import { Inventory } from "../catalog/inventory.ts";
import { demoCatalog } from "./demo-catalog.ts";

/** An in-memory Inventory (as every process builds it) from the demo catalog or from given campaigns/creatives. */
export function demoInventory(entities?: { campaigns: Campaign[]; creatives: Creative[] }): Inventory {
  const c = entities ?? demoCatalog({ advertisers: 6, nowMs: 0 });
  const active = <T extends { id: string; status: EntityStatus }>(xs: T[]) =>
    new Map(xs.map((x) => [x.id, { ...x, status: EntityStatus.ACTIVE }]));
  return new Inventory(new Map(), active(c.campaigns), active(c.creatives));
}
