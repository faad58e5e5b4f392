import { fromBinary } from "@bufbuild/protobuf";
import type { KV, KvWatchEntry } from "@nats-io/kv";
import {
  type Advertiser,
  AdvertiserSchema,
  type Campaign,
  CampaignSchema,
  type Creative,
  CreativeSchema,
} from "../../gen/chorus/v1/campaign_pb.ts";
import { DEFAULT_DIM } from "../features/feature-space.ts";
import { guard, survive } from "../process/survive.ts";
import { parseCatalogKey } from "./catalog-keys.ts";
import { Inventory } from "./inventory.ts";

/**
 * A live, local view of the catalog bucket: watches every key and rebuilds the Inventory snapshot when something
 * changed (coalesced, so a burst of writes costs one rebuild). Readers take `view.inventory`, an immutable
 * snapshot, and never wait on NATS.
 */
export class CatalogView {
  inventory: Inventory;
  private readonly advertisers = new Map<string, Advertiser>();
  private readonly campaigns = new Map<string, Campaign>();
  private readonly creatives = new Map<string, Creative>();
  private readonly listeners = new Set<(inventory: Inventory) => void>();
  private rebuildScheduled = false;
  private stopWatch: (() => void) | undefined;

  private constructor(private readonly dim: number) {
    this.inventory = new Inventory(this.advertisers, this.campaigns, this.creatives, dim);
  }

  /** Resolves once the current catalog is loaded; keeps following changes until `close()`. */
  static async open(kv: KV, dim = DEFAULT_DIM): Promise<CatalogView> {
    const view = new CatalogView(dim);
    const status = await kv.status();
    const watch = await kv.watch({ key: ">" });
    view.stopWatch = () => watch.stop();
    let markLoaded!: () => void;
    const loaded = new Promise<void>((resolve) => {
      markLoaded = resolve;
    });
    if (status.values === 0) markLoaded();
    void (async () => {
      for await (const entry of watch) {
        // One entry that cannot be read (damaged bytes) is skipped, never the watch: the rest keeps flowing.
        try {
          view.apply(entry);
        } catch (err) {
          survive("catalog watch", err, undefined, { key: entry.key });
        }
        if (entry.isUpdate || entry.delta === 0) {
          markLoaded();
          view.scheduleRebuild();
        }
      }
    })().catch((err: unknown) => survive("catalog watch", err));
    await loaded;
    view.rebuild();
    return view;
  }

  onChange(listener: (inventory: Inventory) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when the inventory reaches `version` (or any change, if none given). */
  waitFor(predicate: (inventory: Inventory) => boolean, timeoutMs = 5_000): Promise<Inventory> {
    if (predicate(this.inventory)) return Promise.resolve(this.inventory);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`catalog did not reach the expected state within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onChange((inv) => {
        if (!predicate(inv)) return;
        clearTimeout(timer);
        off();
        resolve(inv);
      });
    });
  }

  /** The latest version of a campaign, whatever its status (e.g. for limits on its events). */
  campaign(id: string): Campaign | undefined {
    return this.campaigns.get(id);
  }

  close(): void {
    this.stopWatch?.();
  }

  private apply(entry: KvWatchEntry): void {
    const parsed = parseCatalogKey(entry.key);
    if (!parsed) return;
    const revision = BigInt(entry.revision);
    const deleted = entry.operation !== "PUT";
    switch (parsed.kind) {
      case "advertiser":
        if (deleted) this.advertisers.delete(parsed.id);
        else this.advertisers.set(parsed.id, { ...fromBinary(AdvertiserSchema, entry.value), revision });
        break;
      case "campaign":
        if (deleted) this.campaigns.delete(parsed.id);
        else this.campaigns.set(parsed.id, { ...fromBinary(CampaignSchema, entry.value), revision });
        break;
      case "creative":
        if (deleted) this.creatives.delete(parsed.id);
        else this.creatives.set(parsed.id, { ...fromBinary(CreativeSchema, entry.value), revision });
        break;
    }
  }

  private scheduleRebuild(): void {
    if (this.rebuildScheduled) return;
    this.rebuildScheduled = true;
    setImmediate(
      guard("catalog rebuild", () => {
        this.rebuildScheduled = false;
        this.rebuild();
      }),
    );
  }

  private rebuild(): void {
    this.inventory = new Inventory(this.advertisers, this.campaigns, this.creatives, this.dim);
    // A listener that throws (the kernel refusing an inventory, say) is that listener's problem: logged, counted.
    for (const listener of this.listeners) guard("catalog listener", listener)(this.inventory);
  }
}
