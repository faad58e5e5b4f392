import type { Advertiser, Campaign, Creative } from "../../gen/chorus/v1/campaign_pb.ts";
import { EntityStatus } from "../../gen/chorus/v1/campaign_pb.ts";
import { DEFAULT_DIM, embed, feature, topLevelCategory, type WeightedFeature } from "../features/feature-space.ts";

/** One servable ad: an active creative of an active campaign of an active advertiser. */
export interface Candidate {
  /** Position in the inventory order: the index agents' votes and the kernel use. */
  readonly index: number;
  readonly creative: Creative;
  readonly campaign: Campaign;
  readonly advertiser: Advertiser | undefined;
  /** Dense ids for the kernel's competitive separation. */
  readonly advertiserSlot: number;
  readonly categorySlot: number;
  readonly embedding: Float32Array;
}

/** The arrays the kernel keeps resident per inventory version. */
export interface InventoryArrays {
  readonly count: number;
  readonly dim: number;
  readonly embeddings: Float32Array;
  readonly durationMs: Int32Array;
  readonly advertiserId: Int32Array;
  readonly categoryId: Int32Array;
}

/**
 * An immutable snapshot of the servable catalog. Every process builds the same candidate order (by creative id)
 * and the same version (a hash of the entity revisions), so a vote computed in an agent process lines up with the
 * gateway's candidates whenever the versions match.
 */
export class Inventory {
  readonly candidates: readonly Candidate[];
  readonly version: number;
  readonly arrays: InventoryArrays;
  /**
   * A retrieved slice (retrieval.ts, `sliceInventory`): the catalog it was taken from and, per slice index, the
   * candidate's index there. Undefined for a whole catalog.
   */
  readonly catalog?: Inventory;
  readonly catalogIndex?: Uint32Array;
  private readonly byCreative: Map<string, Candidate>;

  constructor(
    advertisers: ReadonlyMap<string, Advertiser>,
    campaigns: ReadonlyMap<string, Campaign>,
    creatives: ReadonlyMap<string, Creative>,
    readonly dim = DEFAULT_DIM,
  ) {
    const servable = [...creatives.values()]
      .filter((cr) => cr.status === EntityStatus.ACTIVE)
      .map((creative) => ({ creative, campaign: campaigns.get(creative.campaignId) }))
      .filter((x): x is { creative: Creative; campaign: Campaign } => x.campaign?.status === EntityStatus.ACTIVE)
      .filter(
        ({ campaign }) =>
          (advertisers.get(campaign.advertiserId)?.status ?? EntityStatus.ACTIVE) === EntityStatus.ACTIVE,
      )
      .sort((a, b) => (a.creative.id < b.creative.id ? -1 : 1));

    const advertiserSlots = new Map<string, number>();
    const categorySlots = new Map<string, number>();
    const slot = (map: Map<string, number>, key: string) => {
      const known = map.get(key);
      if (known !== undefined) return known;
      map.set(key, map.size);
      return map.size - 1;
    };
    const n = servable.length;
    const embeddings = new Float32Array(n * dim);
    const durationMs = new Int32Array(n);
    const advertiserId = new Int32Array(n);
    const categoryId = new Int32Array(n);
    let hash = 0x811c9dc5;
    const mix = (text: string) => {
      for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
    };
    this.candidates = servable.map(({ creative, campaign }, index) => {
      const advertiser = advertisers.get(campaign.advertiserId);
      const candidate: Candidate = {
        index,
        creative,
        campaign,
        advertiser,
        advertiserSlot: slot(advertiserSlots, campaign.advertiserId),
        categorySlot: slot(categorySlots, topLevelCategory(creative.iabCategory || "none")),
        embedding: embed(adFeatures(campaign, creative), dim, embeddings.subarray(index * dim, (index + 1) * dim)),
      };
      durationMs[index] = creative.durationMs;
      advertiserId[index] = candidate.advertiserSlot;
      categoryId[index] = candidate.categorySlot;
      mix(`${creative.id}@${creative.revision};${campaign.id}@${campaign.revision};${advertiser?.revision ?? 0}|`);
      return candidate;
    });
    mix(`#${n}`);
    // A 32-bit FNV of every entity revision (the kernel keys resident inventories by a u32): equal catalogs give
    // equal versions in every process.
    this.version = hash >>> 0;
    this.arrays = { count: n, dim, embeddings, durationMs, advertiserId, categoryId };
    this.byCreative = new Map(this.candidates.map((c) => [c.creative.id, c]));
  }

  get size(): number {
    return this.candidates.length;
  }

  /**
   * The candidates at `indices` (ascending catalog indices) as an inventory of their own, indexed 0..k-1 in the
   * catalog's order (so the kernel's ties by lower index fall as they would on the whole catalog). Its version is a
   * hash of the catalog's version and the indices: every process that slices the same catalog the same way gets
   * the same version, so an agent's vote on its slice lines up with the gateway's.
   */
  static slice(catalog: Inventory, indices: Uint32Array): Inventory {
    const base = catalog.catalog ?? catalog;
    const map = catalog.catalogIndex;
    const dim = catalog.dim;
    const n = indices.length;
    const embeddings = new Float32Array(n * dim);
    const durationMs = new Int32Array(n);
    const advertiserId = new Int32Array(n);
    const categoryId = new Int32Array(n);
    const catalogIndex = new Uint32Array(n);
    const src = catalog.arrays;
    let hash = Math.imul(0x811c9dc5 ^ base.version, 0x01000193);
    const candidates: Candidate[] = new Array(n);
    let previous = -1;
    for (let i = 0; i < n; i++) {
      const at = indices[i]!;
      const parent = catalog.candidates[at];
      if (!parent || at <= previous) throw new RangeError(`slice index ${at} out of order or range`);
      previous = at;
      embeddings.set(src.embeddings.subarray(at * dim, at * dim + dim), i * dim);
      durationMs[i] = src.durationMs[at]!;
      advertiserId[i] = src.advertiserId[at]!;
      categoryId[i] = src.categoryId[at]!;
      const original = map ? map[at]! : at;
      catalogIndex[i] = original;
      hash = Math.imul(hash ^ original, 0x01000193);
      candidates[i] = { ...parent, index: i, embedding: embeddings.subarray(i * dim, i * dim + dim) };
    }
    const slice = Object.create(Inventory.prototype) as { -readonly [K in keyof Inventory]: Inventory[K] } & {
      byCreative: Map<string, Candidate>;
    };
    slice.candidates = candidates;
    slice.version = Math.imul(hash ^ n, 0x01000193) >>> 0;
    slice.arrays = { count: n, dim, embeddings, durationMs, advertiserId, categoryId };
    slice.dim = dim;
    slice.catalog = base;
    slice.catalogIndex = catalogIndex;
    slice.byCreative = new Map(candidates.map((c) => [c.creative.id, c]));
    return slice as unknown as Inventory;
  }

  byCreativeId(id: string): Candidate | undefined {
    return this.byCreative.get(id);
  }
}

/** What an ad is about, in the shared feature space: its targeting genres and moods and its category. */
export function adFeatures(campaign: Campaign, creative: Creative): WeightedFeature[] {
  const t = campaign.targeting;
  const out: WeightedFeature[] = [];
  for (const g of t?.genres ?? []) out.push([feature.genre(g), 1]);
  for (const m of t?.moods ?? []) out.push([feature.mood(m), 0.7]);
  for (const k of t?.contentKinds ?? []) out.push([feature.contentKind(k), 0.3]);
  if (creative.iabCategory) out.push([feature.category(creative.iabCategory), 0.5]);
  return out;
}
