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
import { createLogger, type Logger } from "../log/logger.ts";
import { reportBadMessage } from "../nats/bad-messages.ts";
import { readMessage } from "../nats/read-message.ts";
import { retryTransient } from "../nats/transient-retry.ts";
import { guard, survive } from "../process/survive.ts";
import { malformedTimestamps } from "../validation/value-bounds.ts";
import { parseCatalogKey } from "./catalog-keys.ts";
import { Inventory } from "./inventory.ts";

const SCHEMAS = { advertiser: AdvertiserSchema, campaign: CampaignSchema, creative: CreativeSchema } as const;

let log: Logger | undefined;
const defaultLog = () => {
  log ??= createLogger("catalog-view");
  return log;
};

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

  private constructor(
    private readonly dim: number,
    private readonly log: Logger,
  ) {
    this.inventory = new Inventory(this.advertisers, this.campaigns, this.creatives, dim);
  }

  /** Resolves once the current catalog is loaded; keeps following changes until `close()`. */
  static async open(kv: KV, dim = DEFAULT_DIM, log: Logger = defaultLog()): Promise<CatalogView> {
    const view = new CatalogView(dim, log);
    // Retried while JetStream is not ready (a fresh cluster answers its first requests with timeouts).
    const status = await retryTransient("catalog status", () => kv.status(), { logger: log });
    const watch = await retryTransient("catalog watch", () => kv.watch({ key: ">" }), { logger: log });
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

  /**
   * Folds one KV change into the maps. A value that cannot be decoded, holds a malformed timestamp or another
   * entity's id is skipped and counted: the entity keeps its last good version, and the view keeps following.
   */
  private apply(entry: KvWatchEntry): void {
    const parsed = parseCatalogKey(entry.key);
    if (!parsed) return;
    const revision = BigInt(entry.revision);
    const deleted = entry.operation !== "PUT";
    const maps = { advertiser: this.advertisers, campaign: this.campaigns, creative: this.creatives } as const;
    const map = maps[parsed.kind] as Map<string, Advertiser | Campaign | Creative>;
    if (deleted) {
      map.delete(parsed.id);
      return;
    }
    const schema = SCHEMAS[parsed.kind];
    // Only malformed timestamps: flights are dates, and campaigns written before the edge bounds stay readable.
    const read = readMessage(schema, entry.value, undefined, malformedTimestamps);
    let problem = read.ok ? undefined : read;
    if (read.ok) {
      if (read.message.id !== parsed.id)
        problem = { ok: false, reason: "out_of_range", detail: `id: "${read.message.id}" under key ${entry.key}` };
    }
    if (problem) {
      reportBadMessage(this.log, {
        consumer: "catalog-view",
        subject: entry.key,
        seq: entry.revision,
        reason: problem.reason,
        detail: problem.detail,
      });
      return;
    }
    map.set(parsed.id, { ...(read as { message: Advertiser | Campaign | Creative }).message, revision });
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
    try {
      this.inventory = new Inventory(this.advertisers, this.campaigns, this.creatives, this.dim);
    } catch (err) {
      // Serving goes on with the last inventory built; the bad entity is named in the error.
      this.log.error({ err }, "catalog inventory not rebuilt");
      return;
    }
    // A listener that throws (the kernel refusing an inventory, say) is that listener's problem: logged, counted.
    for (const listener of this.listeners) guard("catalog listener", listener)(this.inventory);
  }
}
