/**
 * The one TypeScript copy of the kernel's per-candidate arithmetic (kernel-terms.ts) against both WASM builds,
 * bit for bit: every chosen ad's relevance, quality, rank and quality terms, and the kernel's eligible count
 * (so the eligibility tests agree on every candidate, chosen or not). The reference kernel is built on the
 * same function, so kernel-equivalence.spec.ts checks it on 10,200 more cases.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { makeInventory, makeRequest } from "./kernel-fixtures.ts";
import type { KernelInventory, KernelRequest } from "./kernel-inputs.ts";
import type { KernelInstance } from "./kernel-instance.ts";
import { loadKernel } from "./kernel-loader.ts";
import { agentCoefficients, candidateTerms, ineligibility } from "./kernel-terms.ts";
import { readKernelWasm } from "./kernel-wasm.ts";

const capacity = { maxCandidates: 2_000, maxDimensions: 64, maxAgents: 8 };
let builds: { name: string; kernel: KernelInstance }[] = [];

beforeAll(() => {
  builds = (["simd", "scalar"] as const).map((name) => ({ name, kernel: loadKernel(readKernelWasm(name), capacity) }));
});

const same = (actual: number, expected: number) =>
  Object.is(actual, expected) || (Number.isNaN(actual) && Number.isNaN(expected));

function expectTermsAsKernel(inventory: KernelInventory, request: KernelRequest): void {
  const coefficients = agentCoefficients(request);
  const terms = Array.from({ length: inventory.candidates }, (_, c) =>
    candidateTerms(inventory, request, c, coefficients),
  );
  const eligible = terms.filter(
    (t, c) => request.vetoMask[c] === 0 && ineligibility(t, request, inventory.durationMs[c]!) === undefined,
  ).length;
  const agents = request.weights.length;
  for (const { name, kernel } of builds) {
    kernel.setInventory(inventory);
    const result = kernel.decide(request, name);
    expect(result.eligibleCount, `${name} eligible`).toBe(eligible);
    for (let t = 0; t < result.count; t++) {
      const c = result.indices[t]!;
      const mine = terms[c]!;
      const row = result.contributions.subarray(t * (agents + 1), (t + 1) * (agents + 1));
      const pairs: [string, number, number][] = [
        ["relevance", mine.relevance, result.relevances[t]!],
        ["quality", mine.quality, result.qualities[t]!],
        ["rank", mine.rank, result.ranks[t]!],
        ["relevance term", mine.relevanceTerm, row[0]!],
        ...mine.contributions.map((x, a): [string, number, number] => [`agent ${a}`, x, row[1 + a]!]),
      ];
      for (const [what, actual, expected] of pairs) {
        if (!same(actual, expected))
          throw new Error(`${name}: ad ${t} (candidate ${c}) ${what} ${actual} != ${expected}`);
      }
    }
  }
}

describe("kernel terms - the TypeScript arithmetic vs the WASM kernel", () => {
  it("gives every chosen ad's terms bit for bit and the same eligible set (400 generated cases)", () => {
    const cases = fc.record({
      seed: fc.integer({ min: 1, max: 0x7fffffff }),
      candidates: fc.integer({ min: 0, max: 600 }),
      // Lengths that are not a multiple of 4 exercise the dot product's tail.
      dimensions: fc.constantFrom(1, 3, 7, 8, 32, 33, 64),
      agents: fc.integer({ min: 0, max: 8 }),
      tieLevels: fc.constantFrom(0, 0, 3),
      vetoRate: fc.constantFrom(0, 0.1, 0.5),
      reservePrice: fc.constantFrom(0, 100, 2_000, 50_000),
      relevanceWeight: fc.constantFrom(0, 0.3, 1, 1.7),
      maxAds: fc.integer({ min: 0, max: 16 }),
      maxDurationMs: fc.constantFrom(0, 15_000, 60_000, 180_000),
      auctionType: fc.constantFrom(0 as const, 1 as const),
    });
    fc.assert(
      fc.property(cases, (p) => {
        const inventory = makeInventory({ seed: p.seed, candidates: p.candidates, dimensions: p.dimensions });
        expectTermsAsKernel(inventory, makeRequest(inventory, { ...p, seed: p.seed + 1 }));
      }),
      { numRuns: 400 },
    );
  });

  it("agrees on any f32 in the request (NaN, infinities, -0, subnormals)", () => {
    const wild = fc.record({
      seed: fc.integer({ min: 1, max: 0x7fffffff }),
      weight: fc.float(),
      score: fc.float(),
      bid: fc.float(),
      relevanceWeight: fc.float(),
    });
    fc.assert(
      fc.property(wild, (p) => {
        const inventory = makeInventory({ seed: p.seed, candidates: 40, dimensions: 9 });
        const base = makeRequest(inventory, { seed: p.seed + 1, agents: 3, maxAds: 16, maxDurationMs: 1e9 });
        const request: KernelRequest = {
          ...base,
          weights: base.weights.map((w, a) => (a === 0 ? p.weight : w)),
          scores: base.scores.map((s, i) => (i % 7 === 0 ? p.score : s)),
          bid: base.bid.map((b, c) => (c % 5 === 0 ? p.bid : b)),
          relevanceWeight: p.relevanceWeight,
        };
        expectTermsAsKernel(inventory, request);
      }),
      { numRuns: 200 },
    );
  });

  it("would notice arithmetic in another width or order", () => {
    const inventory = makeInventory({ seed: 5, candidates: 200, dimensions: 33 });
    const request = makeRequest(inventory, { seed: 6, agents: 5, vetoRate: 0, maxAds: 16, maxDurationMs: 1e9 });
    expectTermsAsKernel(inventory, request);
    // The same quality summed in f64 differs from the kernel's somewhere among the candidates.
    const differs = Array.from({ length: inventory.candidates }, (_, c) => {
      const t = candidateTerms(inventory, request, c);
      const f64 = t.relevanceTerm + t.contributions.reduce((s, x) => s + x, 0);
      return f64 !== t.quality;
    }).some(Boolean);
    expect(differs).toBe(true);
  });
});
