/**
 * The SIMD and scalar builds against the TypeScript reference, on 10,200 generated cases. Our builds pin
 * the float operation order, so they must match the reference exactly (tolerance 0), which is stronger
 * than the RESULT_TOLERANCE contract offered to other modules; winners must be identical either way.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { diffKernelResults } from "./kernel-diff.ts";
import { makeInventory, makeRequest } from "./kernel-fixtures.ts";
import type { KernelInventory, KernelRequest } from "./kernel-inputs.ts";
import type { KernelInstance } from "./kernel-instance.ts";
import { loadKernel } from "./kernel-loader.ts";
import { decideReference } from "./kernel-reference.ts";
import { readKernelWasm } from "./kernel-wasm.ts";

interface Case {
  readonly inventory: KernelInventory;
  readonly request: KernelRequest;
}

const capacity = { maxCandidates: 10_000, maxDimensions: 64, maxAgents: 8 };
let builds: { name: string; kernel: KernelInstance }[] = [];

beforeAll(() => {
  builds = (["simd", "scalar"] as const).map((name) => ({ name, kernel: loadKernel(readKernelWasm(name), capacity) }));
  expect(builds.map((b) => b.kernel.simd)).toEqual([true, false]);
});

function expectSameAsReference({ inventory, request }: Case): void {
  const expected = decideReference(inventory, request);
  for (const { name, kernel } of builds) {
    kernel.setInventory(inventory);
    const actual = kernel.decide(request, name);
    const difference = diffKernelResults(actual, expected, 0);
    if (difference !== undefined) throw new Error(`${name}: ${difference}`);
  }
}

const f32s = (length: number, values: fc.Arbitrary<number>) =>
  fc.array(values, { minLength: length, maxLength: length }).map((xs) => Float32Array.from(xs));
const i32s = (length: number, values: fc.Arbitrary<number>) =>
  fc.array(values, { minLength: length, maxLength: length }).map((xs) => Int32Array.from(xs));
const float = (min: number, max: number) => fc.float({ min: Math.fround(min), max: Math.fround(max), noNaN: true });

interface Shape {
  readonly maxCandidates: number;
  /** Values from a handful of levels, so ranks tie often. */
  readonly ties: boolean;
  /** Any f32 at all (NaN, infinities, -0, subnormals) in the per-request numbers. */
  readonly wild: boolean;
}

function caseOf(shape: Shape): fc.Arbitrary<Case> {
  const dims = fc.record({
    n: fc.integer({ min: 0, max: shape.maxCandidates }),
    d: fc.integer({ min: 1, max: 40 }),
    a: fc.integer({ min: 0, max: capacity.maxAgents }),
  });
  return dims.chain(({ n, d, a }) => {
    const wild = shape.wild ? fc.float() : undefined;
    const unit = wild ?? (shape.ties ? fc.constantFrom(0, 0.5, 1) : float(0, 1));
    const money = wild ?? (shape.ties ? fc.constantFrom(0, 1000, 2000, 3000) : float(0, 20_000));
    const inventory = fc.record({
      embeddings: f32s(n * d, shape.ties ? fc.constantFrom(0, 0.25, -0.25) : float(-1, 1)),
      durationMs: i32s(n, fc.constantFrom(0, 5_000, 6_000, 15_000, 30_000, 60_000)),
      advertiserId: i32s(n, fc.integer({ min: 0, max: 6 })),
      categoryId: i32s(n, fc.integer({ min: 0, max: 6 })),
    });
    const request = fc.record({
      intent: f32s(d, shape.ties ? fc.constantFrom(0, 1) : float(-1, 1)),
      weights: f32s(a, wild ?? float(0, 2)),
      confidence: f32s(a, unit),
      scores: f32s(a * n, unit),
      relevanceWeight: wild ?? fc.constantFrom(0, 0.5, 1),
      vetoMask: fc
        .array(fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 0xffffffff })), {
          minLength: n,
          maxLength: n,
        })
        .map((xs) => Uint32Array.from(xs)),
      bid: f32s(n, money),
      pResponse: f32s(n, fc.oneof(fc.constant(1), unit)),
      reservePrice: wild ?? fc.oneof(fc.constant(0), float(0, 5_000)),
      auctionType: fc.constantFrom(0 as const, 1 as const),
      maxAds: fc.integer({ min: 0, max: 16 }),
      maxDurationMs: fc.constantFrom(0, 15_000, 30_000, 60_000, 120_000, 0x7fffffff),
    });
    return fc.tuple(inventory, request).map(([features, inputs]) => ({
      inventory: { version: 1, candidates: n, dimensions: d, ...features },
      request: { inventoryVersion: 1, ...inputs },
    }));
  });
}

/** Forces one of the edges onto a generated case. */
type Edge = "empty" | "allVetoed" | "single" | "noAds" | "zeroBreak" | "oneAdvertiser";

function withEdge({ inventory, request }: Case, edge: Edge): Case {
  switch (edge) {
    case "empty":
    case "single": {
      const n = edge === "empty" ? 0 : Math.min(1, inventory.candidates);
      const a = request.weights.length;
      const d = inventory.dimensions;
      const oldN = inventory.candidates;
      const scores = new Float32Array(a * n);
      for (let k = 0; k < a; k++) scores.set(request.scores.subarray(k * oldN, k * oldN + n), k * n);
      return {
        inventory: {
          ...inventory,
          candidates: n,
          embeddings: inventory.embeddings.slice(0, n * d),
          durationMs: inventory.durationMs.slice(0, n),
          advertiserId: inventory.advertiserId.slice(0, n),
          categoryId: inventory.categoryId.slice(0, n),
        },
        request: {
          ...request,
          scores,
          vetoMask: request.vetoMask.slice(0, n),
          bid: request.bid.slice(0, n),
          pResponse: request.pResponse.slice(0, n),
        },
      };
    }
    case "allVetoed":
      return { inventory, request: { ...request, vetoMask: request.vetoMask.map(() => 4) } };
    case "noAds":
      return { inventory, request: { ...request, maxAds: 0 } };
    case "zeroBreak":
      return { inventory, request: { ...request, maxDurationMs: 0 } };
    case "oneAdvertiser":
      return { inventory: { ...inventory, advertiserId: inventory.advertiserId.map(() => 7) }, request };
  }
}

describe("kernel equivalence - WASM builds vs TypeScript reference", () => {
  it("agrees on small random cases (6,050)", () => {
    fc.assert(fc.property(caseOf({ maxCandidates: 40, ties: false, wild: false }), expectSameAsReference), {
      numRuns: 6_050,
    });
  });

  it("agrees when ranks tie (2,000)", () => {
    fc.assert(fc.property(caseOf({ maxCandidates: 40, ties: true, wild: false }), expectSameAsReference), {
      numRuns: 2_000,
    });
  });

  it("agrees on the edges: empty, all vetoed, N = 1, K = 0, zero break, one advertiser (1,200)", () => {
    const edges = fc.constantFrom<Edge>("empty", "allVetoed", "single", "noAds", "zeroBreak", "oneAdvertiser");
    const edgeCase = fc
      .tuple(caseOf({ maxCandidates: 24, ties: true, wild: false }), edges)
      .map(([testCase, edge]) => withEdge(testCase, edge));
    fc.assert(fc.property(edgeCase, expectSameAsReference), { numRuns: 1_200 });
  });

  it("agrees on any f32 in the request: NaN, infinities, -0, subnormals (800)", () => {
    fc.assert(fc.property(caseOf({ maxCandidates: 24, ties: false, wild: true }), expectSameAsReference), {
      numRuns: 800,
    });
  });

  it("agrees on large N, 500 to 10,000 candidates (150)", () => {
    const large = fc
      .record({
        seed: fc.integer({ min: 1, max: 0x7fffffff }),
        candidates: fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: 500, max: 3_000 }) },
          fc.integer({ min: 3_000, max: 10_000 }),
          fc.constant(10_000),
        ),
        dimensions: fc.constantFrom(8, 32, 33),
        agents: fc.integer({ min: 0, max: 8 }),
        tieLevels: fc.constantFrom(0, 0, 3),
        vetoRate: fc.constantFrom(0, 0.1, 0.5),
        maxAds: fc.integer({ min: 0, max: 16 }),
        auctionType: fc.constantFrom(0 as const, 1 as const),
      })
      .map((p) => {
        const inventory = makeInventory({
          seed: p.seed,
          candidates: p.candidates,
          dimensions: p.dimensions,
          categories: 12,
        });
        return { inventory, request: makeRequest(inventory, { ...p, seed: p.seed + 1, maxDurationMs: 180_000 }) };
      });
    fc.assert(fc.property(large, expectSameAsReference), { numRuns: 150 });
  });

  it("agrees when the walk goes past the selected top and falls back to the heap", () => {
    // Everyone shares one advertiser except a last-ranked candidate (tiny bid): with K = 2 the walk takes the
    // first ad, skips every other one and finds the second at the very end, far past the top 2K + 8.
    const base = makeInventory({ seed: 11, candidates: 300, dimensions: 32 });
    const inventory = { ...base, advertiserId: base.advertiserId.map(() => 1) };
    inventory.advertiserId[150] = 2;
    const generated = makeRequest(inventory, { seed: 12, agents: 4, vetoRate: 0, reservePrice: 0, maxAds: 2 });
    const request = { ...generated, bid: generated.bid.map((b, c) => (c === 150 ? 1e-6 : b)), maxDurationMs: 1e6 };
    const expected = decideReference(inventory, request);
    expect(expected.eligibleCount).toBeGreaterThan(2 * 2 + 8);
    expect(Array.from(expected.indices)).toEqual([expected.indices[0], 150]);
    expectSameAsReference({ inventory, request });
  });

  it("comparison - reports a float beyond tolerance and any change of winner", () => {
    const inventory = makeInventory({ seed: 3, candidates: 100, dimensions: 32 });
    const expected = decideReference(inventory, makeRequest(inventory, { seed: 4, agents: 3, vetoRate: 0 }));
    expect(expected.count).toBeGreaterThan(1);
    const prices = expected.prices.slice();
    prices[1] = prices[1]! * (1 + 1e-6);
    expect(diffKernelResults({ ...expected, prices }, expected, 0)).toMatch(/^prices\[1\]/);
    expect(diffKernelResults({ ...expected, prices }, expected)).toBeUndefined();
    prices[1] = prices[1]! * (1 + 1e-4);
    expect(diffKernelResults({ ...expected, prices }, expected)).toMatch(/^prices\[1\]/);
    const indices = expected.indices.slice().reverse();
    expect(diffKernelResults({ ...expected, indices }, expected)).toMatch(/^ad 0 is candidate/);
  });
});
