import type { DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";
import { campaignSlots } from "../../lib/catalog/campaign-slots.ts";
import { Inventory } from "../../lib/catalog/inventory.ts";
import { formatsForDevice } from "../../voting/creative/creative-policy.ts";
import { TARGETING_RULES, type TargetingMoment, utcHour } from "../../voting/intent/targeting.ts";

/**
 * The retrieval stage: from a catalog of any size to the bounded set of candidates one decision votes on and the
 * kernel sees (its memory is laid out for a few thousand). A targeting index drops what could never serve this
 * request (the Intent agent's request-level rules: consent, geo, age, device, daypart, content kind; the formats the
 * device can play now; the break's length; campaigns this gateway holds no spend headroom for); the rest is ranked
 * by a cheap prior (the campaign's highest CPM bid) and the best `maxCandidates` are kept, in catalog order.
 *
 * Everything it drops is vetoed or ineligible in a full scan too (the same rule functions), so when the eligible
 * candidates fit in `maxCandidates` a decision on the slice picks the same pod as one on the whole catalog.
 *
 * A slice depends only on (catalog, retrieval key, spend headroom): it is memoised per key (LRU, `cacheSize`) and,
 * where spend headroom is consulted, its headroom part is checked again after `recheckMs`; an unchanged slice keeps
 * its object, so the agents' and the kernel's per-inventory caches stay warm.
 *
 * Bounded per decision at any catalog size: a selection reads each rule's verdicts (one array per rule key, built
 * once per key and catalog) only for the candidates it visits, walking the prior order until N are picked; nothing
 * per decision loops over every campaign or creative.
 */
/**
 * N when none is configured. Votes scale with N: at 100,000 creatives a decision on 512 costs 1.54x the
 * 1,000-creative decision, on 1,024 2.83x (docs/benchmarks.md). The simulator's large-catalog market (2,400
 * creatives, most of them eligible) lost nothing measurable at 512: paired seeds had as many impressions, fill and
 * ROI as at 1,024 (the prior keeps the highest bids, which win anyway).
 */
export const DEFAULT_MAX_CANDIDATES = 512;

/**
 * Slices kept when none is configured. The soak's gateway held 222 slices after 90 s and grew by ~9 MiB a minute
 * for 25 minutes at 200/s (the per-slice caches of new candidate sets as spend headroom moved), toward 1,024 sets
 * plus the slices that up to 4,096 remembered keys still named.
 */
export const DEFAULT_SLICE_SETS = 256;

export interface RetrievalOptions {
  /** N: the most candidates a decision sees (<= the kernel's capacity). */
  readonly maxCandidates: number;
  /** Retrieval keys remembered (LRU; a key is a few bytes and names a shared slice). Default 4,096. */
  readonly cacheSize?: number;
  /**
   * Distinct candidate sets (slice objects) kept (LRU), default DEFAULT_SLICE_SETS. Each slice carries every
   * per-inventory cache the agents and the kernel keep for it (features, tables, verdict memos; ~200 KB on the demo
   * catalog), so this bounds the retrieval's memory: a key whose slice is dropped is forgotten with it.
   */
  readonly setCacheSize?: number;
  /** How long a remembered slice is trusted before its spend-headroom part is checked again. */
  readonly recheckMs?: number;
  /** False: the campaign may not serve now (no spend lease). Default: every campaign may. */
  readonly mayServe?: (campaignId: string) => boolean;
}

/** The request-level Intent rules the index applies (genre and mood read the listener's profile: not here). */
const INDEXED_RULES = TARGETING_RULES.filter((r) =>
  ["consent", "geo", "age", "device", "daypart", "content kind"].includes(r.name),
);

interface CachedSlice {
  slice: Inventory;
  checkedAt: number;
}

/** Per catalog: candidates in prior order, their format bits, and each rule's verdicts per key. */
class CatalogIndex {
  /** Candidate indices, best prior first (ties: lower index). */
  readonly order: Uint32Array;
  readonly formatBit: Uint32Array;
  readonly campaignOf: Uint32Array;
  readonly campaignIds: readonly string[];
  /** Per rule: key -> per campaign slot, 1 = excluded. */
  private readonly verdicts = INDEXED_RULES.map(() => new Map<string, Uint8Array>());

  constructor(readonly inventory: Inventory) {
    const slots = campaignSlots(inventory);
    this.campaignOf = slots.slotOf;
    this.campaignIds = slots.campaigns.map((c) => c.id);
    const n = inventory.size;
    const prior = new Float64Array(n);
    this.formatBit = new Uint32Array(n);
    for (const c of inventory.candidates) {
      prior[c.index] = Number(c.campaign.bidStrategy?.maxCpmMicros ?? 0n);
      this.formatBit[c.index] = 1 << (c.creative.format & 31);
    }
    this.order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => prior[b]! - prior[a]! || a - b);
  }

  /** Per indexed rule, 1 per campaign slot it excludes for this moment (built once per rule key). */
  ruleVerdicts(moment: TargetingMoment): Uint8Array[] {
    const campaigns = campaignSlots(this.inventory).campaigns;
    const out: Uint8Array[] = new Array(INDEXED_RULES.length);
    for (let r = 0; r < INDEXED_RULES.length; r++) {
      const rule = INDEXED_RULES[r]!;
      const memo = this.verdicts[r]!;
      const key = rule.key(moment);
      let v = memo.get(key);
      if (!v) {
        // Keys are small enumerations (country, device, hour...): the bound only guards against junk values.
        if (memo.size >= 1_024) memo.clear();
        v = new Uint8Array(campaigns.length);
        for (let s = 0; s < campaigns.length; s++) {
          const t = campaigns[s]!.targeting;
          if (t && rule.check(t, moment)) v[s] = 1;
        }
        memo.set(key, v);
      }
      out[r] = v;
    }
    return out;
  }
}

export class Retriever {
  private index: CatalogIndex | undefined;
  private readonly slices = new Map<string, CachedSlice>();
  /**
   * Slices by their candidate set (hash of the indices -> slices with that hash), most recently used last: many
   * retrieval keys (devices, countries, ages...) select the same candidates, and every time spend headroom changes
   * the same few sets come back. One object per set keeps every per-inventory cache (the agents' tables, the
   * kernel's resident copy) warm instead of rebuilding them for a new object with the same content.
   */
  private readonly bySet = new Map<number, Inventory[]>();
  /**
   * Each kept slice's set hash and the remembered keys naming it: dropping a set drops its keys, so no key keeps a
   * dropped slice alive, and a key's hit keeps its set recently used.
   */
  private readonly kept = new Map<Inventory, { hash: number; keys: Set<string> }>();
  private setCount = 0;
  private readonly cacheSize: number;
  private readonly setCacheSize: number;
  private readonly recheckMs: number;
  /** Spend headroom per campaign slot, valid where `servingAt[slot]` is this selection's number (no per-call O(campaigns) reset). */
  private serving = new Int8Array(0);
  private servingAt = new Uint32Array(0);
  private selection = 0;
  /** Counters for metrics and tests. */
  readonly stats = { hits: 0, misses: 0, rechecks: 0 };

  constructor(private readonly options: RetrievalOptions) {
    if (!Number.isInteger(options.maxCandidates) || options.maxCandidates < 1)
      throw new RangeError("maxCandidates must be a positive integer");
    this.cacheSize = options.cacheSize ?? 4_096;
    this.setCacheSize = options.setCacheSize ?? DEFAULT_SLICE_SETS;
    // Without a headroom check a slice never changes for its key: nothing to recheck.
    this.recheckMs = options.mayServe ? (options.recheckMs ?? 1_000) : Number.POSITIVE_INFINITY;
  }

  /** The candidates this request may be decided on, as an inventory of their own (`Inventory.slice`). */
  retrieve(catalog: Inventory, request: DecideRequest, nowMs: number): Inventory {
    if (this.index?.inventory !== catalog) {
      this.index = new CatalogIndex(catalog);
      this.serving = new Int8Array(this.index.campaignIds.length);
      this.servingAt = new Uint32Array(this.index.campaignIds.length);
      this.selection = 0;
      this.slices.clear();
      this.bySet.clear();
      this.kept.clear();
      this.setCount = 0;
    }
    const moment: TargetingMoment = { request, profile: undefined, hour: utcHour(nowMs) };
    const formats = formatsForDevice(request);
    let formatMask = 0;
    for (const f of formats) formatMask |= 1 << (f & 31);
    const maxDurationMs = request.placement?.maxDurationMs ?? 0;
    let key = `${formatMask}|${maxDurationMs}`;
    for (const rule of INDEXED_RULES) key += `|${rule.key(moment)}`;

    const cached = this.slices.get(key);
    if (cached) {
      this.slices.delete(key);
      this.slices.set(key, cached);
      if (nowMs - cached.checkedAt < this.recheckMs) {
        this.stats.hits++;
        this.touchSet(cached.slice);
        return cached.slice;
      }
      this.stats.rechecks++;
    } else this.stats.misses++;

    const indices = this.select(this.index, moment, formatMask, maxDurationMs);
    const slice =
      cached && sameIndices(cached.slice.catalogIndex!, indices) ? cached.slice : this.sliceOf(catalog, indices);
    if (cached?.slice === slice) this.touchSet(slice);
    else if (cached) this.kept.get(cached.slice)?.keys.delete(key);
    this.slices.set(key, { slice, checkedAt: nowMs });
    this.kept.get(slice)?.keys.add(key);
    if (this.slices.size > this.cacheSize) {
      const oldest = this.slices.keys().next().value!;
      this.kept.get(this.slices.get(oldest)!.slice)?.keys.delete(oldest);
      this.slices.delete(oldest);
    }
    return slice;
  }

  /** Marks a kept slice's set as the most recently used. */
  private touchSet(slice: Inventory): void {
    const hash = this.kept.get(slice)?.hash;
    const bucket = hash === undefined ? undefined : this.bySet.get(hash);
    if (!bucket) return;
    this.bySet.delete(hash!);
    this.bySet.set(hash!, bucket);
  }

  /** Distinct slice objects this retriever keeps reachable (by key or by set): at most `setCacheSize`. */
  get keptSlices(): number {
    const kept = new Set<Inventory>();
    for (const { slice } of this.slices.values()) kept.add(slice);
    for (const bucket of this.bySet.values()) for (const slice of bucket) kept.add(slice);
    return kept.size;
  }

  /** The one slice object of this candidate set (made on first use; the least recently used sets are dropped). */
  private sliceOf(catalog: Inventory, indices: Uint32Array): Inventory {
    let hash = 0x811c9dc5 ^ indices.length;
    for (let i = 0; i < indices.length; i++) hash = Math.imul(hash ^ indices[i]!, 0x01000193);
    const bucket = this.bySet.get(hash);
    const known = bucket?.find((slice) => sameIndices(slice.catalogIndex!, indices));
    if (known) {
      this.bySet.delete(hash);
      this.bySet.set(hash, bucket!);
      return known;
    }
    const slice = Inventory.slice(catalog, indices);
    // Most recently used last, the new set's bucket too: the eviction below never drops the slice just made.
    if (bucket) {
      bucket.push(slice);
      this.bySet.delete(hash);
      this.bySet.set(hash, bucket);
    } else this.bySet.set(hash, [slice]);
    this.kept.set(slice, { hash, keys: new Set() });
    this.setCount++;
    while (this.setCount > this.setCacheSize && this.bySet.size > 1) {
      const [oldest, dropped] = this.bySet.entries().next().value!;
      this.bySet.delete(oldest);
      this.setCount -= dropped.length;
      for (const old of dropped) {
        for (const key of this.kept.get(old)?.keys ?? []) this.slices.delete(key);
        this.kept.delete(old);
      }
    }
    return slice;
  }

  private select(index: CatalogIndex, moment: TargetingMoment, formatMask: number, maxDurationMs: number): Uint32Array {
    const verdicts = index.ruleVerdicts(moment);
    const rules = verdicts.length;
    const mayServe = this.options.mayServe;
    // Spend headroom asked once per campaign per selection (it may also ask the Budget agent for a lease).
    const { serving, servingAt } = this;
    const selection = ++this.selection;
    const durations = index.inventory.arrays.durationMs;
    const n = this.options.maxCandidates;
    const picked = new Uint32Array(Math.min(n, index.order.length));
    let count = 0;
    visit: for (let i = 0; i < index.order.length && count < n; i++) {
      const c = index.order[i]!;
      if ((index.formatBit[c]! & formatMask) === 0 || durations[c]! > maxDurationMs) continue;
      const slot = index.campaignOf[c]!;
      for (let r = 0; r < rules; r++) if (verdicts[r]![slot]) continue visit;
      if (mayServe) {
        if (servingAt[slot] !== selection) {
          servingAt[slot] = selection;
          serving[slot] = mayServe(index.campaignIds[slot]!) ? 1 : -1;
        }
        if (serving[slot] === -1) continue;
      }
      picked[count++] = c;
    }
    return picked.subarray(0, count).sort();
  }
}

function sameIndices(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
