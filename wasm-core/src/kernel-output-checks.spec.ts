import { describe, expect, it } from "vitest";
import { goldenCases, makeInventory, makeRequest } from "./kernel-fixtures.ts";
import type { KernelResult } from "./kernel-inputs.ts";
import { loadKernel } from "./kernel-loader.ts";
import { checkKernelOutput, KernelOutputError, kernelOutputProblem } from "./kernel-output-checks.ts";
import { decideReference } from "./kernel-reference.ts";
import { readKernelWasm } from "./kernel-wasm.ts";

const inventory = makeInventory({ seed: 31, candidates: 120, dimensions: 16, advertisers: 60, categories: 20 });
const request = makeRequest(inventory, { seed: 32, agents: 4, vetoRate: 0.3, reservePrice: 10, maxAds: 4 });
const good = decideReference(inventory, request);

/** The good pod with `change` applied to copies of its arrays. */
function tampered(change: (r: { -readonly [K in keyof KernelResult]: KernelResult[K] }) => void): KernelResult {
  const copy = {
    ...good,
    indices: good.indices.slice(),
    prices: good.prices.slice(),
    ranks: good.ranks.slice(),
    qualities: good.qualities.slice(),
    relevances: good.relevances.slice(),
    contributions: good.contributions.slice(),
  };
  change(copy);
  return copy;
}

describe("kernel output checks", () => {
  it("kernel output checks - every golden case passes, decided by the reference and by both shipped builds", () => {
    const capacity = { maxCandidates: 4000, maxDimensions: 64, maxAgents: 8 };
    const builds = (["simd", "scalar"] as const).map((v) => loadKernel(readKernelWasm(v), capacity));
    for (const c of goldenCases()) {
      expect(kernelOutputProblem(c.request, c.inventory, decideReference(c.inventory, c.request)), c.name).toBe(
        undefined,
      );
      for (const kernel of builds) {
        kernel.setInventory(c.inventory);
        expect(kernelOutputProblem(c.request, c.inventory, kernel.decide(c.request, "shipped")), c.name).toBe(
          undefined,
        );
      }
    }
    expect(good.count).toBeGreaterThan(1);
  });

  const vetoed = request.vetoMask.findIndex((m) => m !== 0);
  const unchosen = (pred: (c: number) => boolean) => {
    for (let c = 0; c < inventory.candidates; c++) if (!good.indices.includes(c) && pred(c)) return c;
    throw new Error("no such candidate");
  };
  const cases: Array<[string, (r: { -readonly [K in keyof KernelResult]: KernelResult[K] }) => void, RegExp]> = [
    [
      "winner index out of range",
      (r) => {
        r.indices[0] = inventory.candidates;
      },
      /outside 0\.\.119/,
    ],
    [
      "negative winner index",
      (r) => {
        r.indices[1] = -1;
      },
      /candidate -1, outside/,
    ],
    [
      "the same winner twice",
      (r) => {
        r.indices[1] = r.indices[0]!;
      },
      /wins twice/,
    ],
    [
      "a vetoed winner",
      (r) => {
        r.indices[0] = vetoed;
      },
      /is vetoed/,
    ],
    [
      "price above the bid",
      (r) => {
        r.prices[0] = request.bid[r.indices[0]!]! * 2;
      },
      /priced .* outside reserve/,
    ],
    [
      "price under the reserve",
      (r) => {
        r.prices[0] = 1;
      },
      /priced 1, outside reserve 10/,
    ],
    [
      "NaN price",
      (r) => {
        r.prices[0] = Number.NaN;
      },
      /prices\[0\] is NaN/,
    ],
    [
      "infinite rank",
      (r) => {
        r.ranks[1] = Number.POSITIVE_INFINITY;
      },
      /ranks\[1\] is Infinity/,
    ],
    [
      "NaN contribution",
      (r) => {
        r.contributions[2] = Number.NaN;
      },
      /contributions\[2\] is NaN/,
    ],
    [
      "more ads than asked",
      (r) => {
        r.count = 5;
      },
      /pod size 5 outside 0\.\.4/,
    ],
    [
      "fractional pod size",
      (r) => {
        r.count = 1.5;
      },
      /pod size 1.5/,
    ],
    [
      "eligible count beyond the inventory",
      (r) => {
        r.eligibleCount = 500;
      },
      /eligible count 500/,
    ],
    [
      "arrays shorter than the pod",
      (r) => {
        r.prices = r.prices.slice(0, 1);
      },
      /prices has 1 entries/,
    ],
    [
      "another inventory",
      (r) => {
        r.inventoryVersion = 99;
      },
      /inventory 99/,
    ],
    [
      "two ads of one advertiser",
      (r) => {
        const c = unchosen(
          (c) =>
            inventory.advertiserId[c] === inventory.advertiserId[r.indices[0]!] &&
            request.vetoMask[c] === 0 &&
            inventory.categoryId[c] !== inventory.categoryId[r.indices[0]!],
        );
        r.indices[1] = c;
        r.prices[1] = request.reservePrice;
      },
      /share advertiser/,
    ],
  ];
  it.each(cases)("kernel output checks - refuses %s", (_, change, message) => {
    const bad = tampered(change);
    expect(kernelOutputProblem(request, inventory, bad)).toMatch(message);
    expect(() => checkKernelOutput(request, inventory, bad)).toThrow(KernelOutputError);
  });

  it("kernel output checks - refuses a pod longer than the break", () => {
    const short = { ...request, maxDurationMs: inventory.durationMs[good.indices[0]!]! };
    expect(kernelOutputProblem(short, inventory, good)).toMatch(/pod lasts \d+ ms, the break/);
  });
});
