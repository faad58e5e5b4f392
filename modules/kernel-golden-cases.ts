/**
 * Fixed, seeded inputs every kernel module must decide like the TypeScript reference (wasm-core/src/
 * kernel-reference.ts) before it may serve: vetoes, reserve prices, both auction types, duration limits,
 * advertiser/category clashes, empty and full pods. Same seed = same cases in every process and release.
 */
import { createSeededRandom } from "../agents/bidding/seeded-random.ts";
import type { KernelCapacity, KernelInventory, KernelRequest, KernelResult } from "../wasm-core/src/kernel-inputs.ts";
import { decideReference } from "../wasm-core/src/kernel-reference.ts";

const SEED = 0x5eed_c0de;
const CANDIDATES = 20;
const DIMENSIONS = 6; // not a multiple of four: exercises the row padding
const AGENTS = 6;

export const GOLDEN_CAPACITY: KernelCapacity = { maxCandidates: 32, maxDimensions: 16, maxAgents: 8 };

export interface GoldenCases {
  inventory: KernelInventory;
  requests: KernelRequest[];
  expected: KernelResult[];
}

let cached: GoldenCases | undefined;

export function kernelGoldenCases(): GoldenCases {
  cached ??= build();
  return cached;
}

function build(): GoldenCases {
  const random = createSeededRandom(SEED);
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * random();
  const floats = (length: number, lo: number, hi: number) => Float32Array.from({ length }, () => uniform(lo, hi));
  const inventory: KernelInventory = {
    version: 7,
    candidates: CANDIDATES,
    dimensions: DIMENSIONS,
    embeddings: floats(CANDIDATES * DIMENSIONS, -1, 1),
    durationMs: Int32Array.from({ length: CANDIDATES }, (_, c) => [15_000, 30_000, 6_000, 60_000][c % 4]!),
    advertiserId: Int32Array.from({ length: CANDIDATES }, (_, c) => c % 9),
    categoryId: Int32Array.from({ length: CANDIDATES }, (_, c) => (c * 7) % 11),
  };
  const shapes: Array<Pick<KernelRequest, "auctionType" | "maxAds" | "maxDurationMs" | "reservePrice">> = [
    { auctionType: 0, maxAds: 1, maxDurationMs: 30_000, reservePrice: 0 },
    { auctionType: 0, maxAds: 4, maxDurationMs: 120_000, reservePrice: 50 },
    { auctionType: 1, maxAds: 4, maxDurationMs: 120_000, reservePrice: 50 },
    { auctionType: 0, maxAds: 16, maxDurationMs: 600_000, reservePrice: 0 },
    { auctionType: 0, maxAds: 3, maxDurationMs: 20_000, reservePrice: 10 },
    { auctionType: 0, maxAds: 0, maxDurationMs: 60_000, reservePrice: 0 },
    { auctionType: 1, maxAds: 6, maxDurationMs: 90_000, reservePrice: 400 },
    { auctionType: 0, maxAds: 5, maxDurationMs: 6_000, reservePrice: 0 },
    { auctionType: 0, maxAds: 8, maxDurationMs: 240_000, reservePrice: 900 },
    { auctionType: 0, maxAds: 2, maxDurationMs: 45_000, reservePrice: 20 },
  ];
  const requests = shapes.map((shape, i): KernelRequest => {
    const vetoShare = i === 8 ? 1 : i % 3 === 0 ? 0 : 0.3;
    return {
      ...shape,
      inventoryVersion: inventory.version,
      intent: floats(DIMENSIONS, -1, 1),
      weights: floats(AGENTS, 0.2, 1),
      confidence: floats(AGENTS, 0.3, 1),
      scores: floats(AGENTS * CANDIDATES, 0, 1),
      relevanceWeight: uniform(0, 0.5),
      vetoMask: Uint32Array.from({ length: CANDIDATES }, () => (random() < vetoShare ? 1 << 2 : 0)),
      bid: floats(CANDIDATES, 1_000, 8_000),
      pResponse: floats(CANDIDATES, 0.01, 0.2),
    };
  });
  return { inventory, requests, expected: requests.map((r) => decideReference(inventory, r)) };
}

/**
 * How a module's result for a golden case differs from the reference's, in words; empty = acceptable.
 * The pod (which creatives, in which order) and the counts must be identical: that is the kernel's contract.
 * Prices may differ (pricing is what a new version may legitimately change, and what shadow mode measures)
 * but must stay within [reserve price, value] of each chosen ad.
 */
export function goldenDifferences(request: KernelRequest, expected: KernelResult, actual: KernelResult): string[] {
  const problems: string[] = [];
  if (actual.count !== expected.count) problems.push(`pod has ${actual.count} ads, expected ${expected.count}`);
  if (actual.eligibleCount !== expected.eligibleCount) {
    problems.push(`${actual.eligibleCount} eligible candidates, expected ${expected.eligibleCount}`);
  }
  if (actual.vetoedCount !== expected.vetoedCount) {
    problems.push(`${actual.vetoedCount} vetoed candidates, expected ${expected.vetoedCount}`);
  }
  const same =
    actual.indices.length === expected.indices.length && actual.indices.every((c, t) => c === expected.indices[t]);
  if (!same) problems.push(`pod [${[...actual.indices]}], expected [${[...expected.indices]}]`);
  const reserve = Math.fround(request.reservePrice);
  for (let t = 0; t < Math.min(actual.count, actual.prices.length); t++) {
    const c = actual.indices[t]!;
    const value = Math.fround(request.bid[c]! * request.pResponse[c]!);
    const price = actual.prices[t]!;
    if (!(price >= reserve && price <= value)) {
      problems.push(`ad ${t + 1} price ${price} outside [reserve ${reserve}, value ${value}]`);
    }
  }
  return problems;
}
