/** Seeded inventories and requests: the same seed gives the same case on every machine (tests, bench, self-test). */
import { MAX_ADS } from "./kernel-abi.ts";
import type { AuctionType, KernelInventory, KernelRequest } from "./kernel-inputs.ts";

/** mulberry32: small, fast, good enough for fixtures. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface InventoryFixture {
  readonly seed: number;
  readonly candidates: number;
  readonly dimensions: number;
  readonly version?: number;
  /** Distinct advertisers / categories (fewer = more separation conflicts). */
  readonly advertisers?: number;
  readonly categories?: number;
  /** Durations are drawn from this list. */
  readonly durationsMs?: readonly number[];
}

export function makeInventory(fixture: InventoryFixture): KernelInventory {
  const random = seededRandom(fixture.seed);
  const { candidates: n, dimensions: d } = fixture;
  const durations = fixture.durationsMs ?? [6_000, 10_000, 15_000, 20_000, 30_000];
  const scale = 1 / Math.sqrt(Math.max(1, d));
  return {
    version: fixture.version ?? 1,
    candidates: n,
    dimensions: d,
    embeddings: Float32Array.from({ length: n * d }, () => (random() * 2 - 1) * scale),
    durationMs: Int32Array.from({ length: n }, () => durations[Math.floor(random() * durations.length)]),
    advertiserId: Int32Array.from({ length: n }, () =>
      Math.floor(random() * (fixture.advertisers ?? Math.max(1, n / 4))),
    ),
    categoryId: Int32Array.from({ length: n }, () => Math.floor(random() * (fixture.categories ?? 24))),
  };
}

export interface RequestFixture {
  readonly seed: number;
  readonly agents: number;
  /** Share of candidates with a veto bit set. */
  readonly vetoRate?: number;
  /** Quantise scores, bids and relevance to this many levels so that ranks tie (0 = continuous). */
  readonly tieLevels?: number;
  readonly reservePrice?: number;
  readonly auctionType?: AuctionType;
  readonly maxAds?: number;
  readonly maxDurationMs?: number;
  readonly relevanceWeight?: number;
}

export function makeRequest(inventory: KernelInventory, fixture: RequestFixture): KernelRequest {
  const random = seededRandom(fixture.seed);
  const n = inventory.candidates;
  const a = fixture.agents;
  const levels = fixture.tieLevels ?? 0;
  const unit = (): number => (levels > 0 ? Math.floor(random() * levels) / Math.max(1, levels - 1) : random());
  const vetoRate = fixture.vetoRate ?? 0.1;
  return {
    inventoryVersion: inventory.version,
    // With ties wanted, relevance is switched off (zero intent) so quality comes from quantised scores only.
    intent: Float32Array.from({ length: inventory.dimensions }, () => (levels > 0 ? 0 : random() * 2 - 1)),
    weights: Float32Array.from({ length: a }, () => (levels > 0 ? 1 : 0.5 + random())),
    confidence: Float32Array.from({ length: a }, () => (levels > 0 ? 1 : 0.25 + random() * 0.75)),
    scores: Float32Array.from({ length: a * n }, unit),
    relevanceWeight: fixture.relevanceWeight ?? 1,
    vetoMask: Uint32Array.from({ length: n }, () => (random() < vetoRate ? 1 << Math.floor(random() * 6) : 0)),
    bid: Float32Array.from({ length: n }, () =>
      levels > 0 ? 1000 * (1 + Math.floor(random() * levels)) : 200 + random() * 20_000,
    ),
    pResponse: Float32Array.from({ length: n }, () => (levels > 0 || random() < 0.5 ? 1 : 0.01 + random() * 0.2)),
    reservePrice: fixture.reservePrice ?? 100,
    auctionType: fixture.auctionType ?? 0,
    maxAds: fixture.maxAds ?? 6,
    maxDurationMs: fixture.maxDurationMs ?? 120_000,
  };
}

/** A named case: an inventory and one request against it. */
export interface KernelCase {
  readonly name: string;
  readonly inventory: KernelInventory;
  readonly request: KernelRequest;
}

/**
 * The golden inputs: typical traffic plus the edges a candidate module is most likely to get wrong.
 * Expected outputs are not stored: they are whatever the TypeScript reference says.
 */
export function goldenCases(): KernelCase[] {
  const cases: KernelCase[] = [];
  const add = (name: string, inventory: KernelInventory, request: RequestFixture): void => {
    cases.push({ name, inventory, request: makeRequest(inventory, request) });
  };
  const typical = makeInventory({ seed: 1, candidates: 1000, dimensions: 32 });
  add("typical N=1000 D=32 A=8", typical, { seed: 2, agents: 8 });
  add("first price", typical, { seed: 3, agents: 8, auctionType: 1 });
  add("full pod K=16", typical, { seed: 4, agents: 8, maxAds: MAX_ADS, maxDurationMs: 600_000 });
  add("high reserve", typical, { seed: 5, agents: 8, reservePrice: 15_000 });
  add("no agents", typical, { seed: 6, agents: 0 });
  const odd = makeInventory({ seed: 7, candidates: 333, dimensions: 37 });
  add("odd sizes N=333 D=37", odd, { seed: 8, agents: 5 });
  const ties = makeInventory({ seed: 9, candidates: 200, dimensions: 32, advertisers: 40, categories: 6 });
  add("ties everywhere", ties, { seed: 10, agents: 3, tieLevels: 3, vetoRate: 0 });
  add("all vetoed", typical, { seed: 11, agents: 4, vetoRate: 1 });
  add("K=0", typical, { seed: 12, agents: 4, maxAds: 0 });
  add("break shorter than every ad", typical, { seed: 13, agents: 4, maxDurationMs: 5_000 });
  const one = makeInventory({ seed: 14, candidates: 1, dimensions: 32 });
  add("N=1", one, { seed: 15, agents: 2, vetoRate: 0, reservePrice: 0, relevanceWeight: 0.1 });
  const empty = makeInventory({ seed: 16, candidates: 0, dimensions: 32 });
  add("N=0", empty, { seed: 17, agents: 2 });
  const crowded = makeInventory({ seed: 18, candidates: 500, dimensions: 64, advertisers: 3, categories: 2 });
  add("separation: 3 advertisers, 2 categories", crowded, { seed: 19, agents: 6, maxAds: MAX_ADS });
  const large = makeInventory({ seed: 20, candidates: 4000, dimensions: 32 });
  add("large N=4000", large, { seed: 21, agents: 8, maxAds: 8 });
  return cases;
}
