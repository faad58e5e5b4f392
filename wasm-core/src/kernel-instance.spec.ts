import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkRequest } from "./kernel-checks.ts";
import { diffKernelResults } from "./kernel-diff.ts";
import { KernelInputError, KernelInventoryMismatchError, KernelTrapError } from "./kernel-errors.ts";
import { makeInventory, makeRequest } from "./kernel-fixtures.ts";
import { loadKernel } from "./kernel-loader.ts";
import { decideReference } from "./kernel-reference.ts";
import { readKernelWasm } from "./kernel-wasm.ts";

const capacity = { maxCandidates: 1000, maxDimensions: 32, maxAgents: 8 };
const chaosBytes = () => new Uint8Array(readFileSync(new URL("../build/fixtures/chaos-kernel.wasm", import.meta.url)));

describe("kernel instance - memory", () => {
  it.each([
    ["simd", 1_000_000],
    ["scalar", 200_000],
  ] as const)("%s: %i calls leave the memory size unchanged and the answer identical", (variant, calls) => {
    const kernel = loadKernel(readKernelWasm(variant), capacity);
    const inventory = makeInventory({ seed: 5, candidates: 24, dimensions: 32 });
    const request = makeRequest(inventory, { seed: 6, agents: 4, vetoRate: 0 });
    kernel.setInventory(inventory);
    const first = kernel.decide(request, variant);
    const bytes = kernel.memoryBytes;
    const sizes = new Set<number>();
    kernel.write(request);
    for (let i = 0; i < calls; i++) {
      kernel.invoke();
      if (i % 100_000 === 0) sizes.add(kernel.memoryBytes);
    }
    sizes.add(kernel.memoryBytes);
    expect(first.count).toBeGreaterThan(0);
    expect([...sizes]).toEqual([bytes]);
    expect(diffKernelResults(kernel.decide(request, variant), first, 0)).toBeUndefined();
  });

  it("rebuilds its views when the module grows memory during a call", () => {
    const kernel = loadKernel(chaosBytes(), capacity);
    const inventory = makeInventory({ seed: 7, candidates: 300, dimensions: 32 });
    kernel.setInventory(inventory);
    const request = { ...makeRequest(inventory, { seed: 8, agents: 3 }), reservePrice: -3333 };
    const before = kernel.memoryBytes;
    const result = kernel.decide(request, "chaos");
    expect(kernel.memoryBytes).toBe(before + 65536);
    expect(result.count).toBeGreaterThan(0);
    expect(diffKernelResults(result, decideReference(inventory, request), 0)).toBeUndefined();
    // The next call writes through the new views too.
    const next = makeRequest(inventory, { seed: 9, agents: 3 });
    expect(diffKernelResults(kernel.decide(next, "chaos"), decideReference(inventory, next), 0)).toBeUndefined();
  });

  it("turns a trap into KernelTrapError", () => {
    const kernel = loadKernel(chaosBytes(), capacity);
    const inventory = makeInventory({ seed: 7, candidates: 10, dimensions: 8 });
    kernel.setInventory(inventory);
    const request = { ...makeRequest(inventory, { seed: 8, agents: 1 }), reservePrice: -1111 };
    expect(() => kernel.decide(request, "chaos")).toThrow(KernelTrapError);
  });
});

describe("kernel instance - inputs", () => {
  const inventory = makeInventory({ seed: 1, candidates: 100, dimensions: 32 });
  const request = makeRequest(inventory, { seed: 2, agents: 3 });

  it("refuses an inventory beyond capacity or with inconsistent arrays", () => {
    const kernel = loadKernel(readKernelWasm("simd"), capacity);
    const big = makeInventory({ seed: 1, candidates: 1001, dimensions: 32 });
    expect(() => kernel.setInventory(big)).toThrow(/1001 candidates, capacity is 1000/);
    expect(() => kernel.setInventory({ ...inventory, durationMs: new Int32Array(99) })).toThrow(KernelInputError);
    expect(() => kernel.setInventory({ ...inventory, durationMs: inventory.durationMs.map(() => -1) })).toThrow(/>= 0/);
  });

  it("refuses requests whose arrays do not match the inventory, or that name another inventory", () => {
    const shape = { version: 1, candidates: 100, dimensions: 32 };
    expect(() => checkRequest(request, shape, capacity)).not.toThrow();
    expect(() => checkRequest({ ...request, scores: new Float32Array(299) }, shape)).toThrow(/scores has 299/);
    expect(() => checkRequest({ ...request, intent: new Float32Array(31) }, shape)).toThrow(/intent has 31/);
    expect(() => checkRequest({ ...request, maxAds: 17 }, shape)).toThrow(/maxAds/);
    expect(() => checkRequest({ ...request, inventoryVersion: 2 }, shape)).toThrow(KernelInventoryMismatchError);
    const nineAgents = makeRequest(inventory, { seed: 2, agents: 9 });
    expect(() => checkRequest(nineAgents, shape, capacity)).toThrow(/9 agents, capacity is 8/);
  });
});
