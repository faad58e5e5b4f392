/**
 * The decide pipeline's slices stay resident while their decisions wait in a real kernel pool: every decision in
 * flight re-adds (or finds recent) its slice, then queues behind the others. At twice capacity an overloaded
 * gateway had 128 decisions in flight over more distinct slices than the 64 its kernel kept, and 70-90 decisions/s
 * failed with "inventory ... is not resident".
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import { KernelPool } from "../../wasm-core/src/kernel-pool.ts";
import { makeInventory, makeRequest, readKernelWasm } from "../../wasm-core/src/mod.ts";
import { residentInventoriesFor } from "./decision-engine.ts";
import { residentInventories } from "./kernel-port.ts";

/** The catalog Inventory fields the kernel port reads, around a kernel fixture. */
function slice(version: number): { inventory: Inventory; request: ReturnType<typeof makeRequest> } {
  const k = makeInventory({ seed: version, candidates: 64, dimensions: 8, version });
  const arrays = {
    count: k.candidates,
    dim: k.dimensions,
    embeddings: k.embeddings,
    durationMs: k.durationMs,
    advertiserId: k.advertiserId,
    categoryId: k.categoryId,
  };
  const inventory = { version, arrays } as unknown as Inventory;
  return { inventory, request: makeRequest(k, { seed: version, agents: 6 }) };
}

/** `inFlight` decisions on as many distinct slices, each made resident the engine's way, then queued at once. */
async function failures(residentLimit: number, inFlight: number): Promise<string[]> {
  const pool = new KernelPool({
    size: 1,
    moduleBytes: readKernelWasm("simd"),
    moduleVersion: "simd",
    capacity: { maxCandidates: 64, maxDimensions: 8, maxAgents: 8 },
    residentInventories: residentLimit,
  });
  pools.push(pool);
  await pool.ready();
  const ensure = residentInventories(pool, pool.residentLimit);
  // Earlier traffic: the resident set is full of other slices, as in a gateway that has run a while.
  for (let v = 10_000; v < 10_000 + residentLimit; v++) ensure(slice(v).inventory);
  // Built first, so that the decisions are queued in one burst (the worker cannot keep pace and drain them).
  const slices = Array.from({ length: inFlight }, (_, i) => slice(i + 1));
  const decisions = slices.map(({ inventory, request }) => {
    ensure(inventory);
    return pool.decide(request);
  });
  const settled = await Promise.allSettled(decisions);
  return settled.flatMap((s) => (s.status === "rejected" ? [String((s.reason as Error).message)] : []));
}

const pools: KernelPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describe("kernel residency under a full admission limit", () => {
  it("residentInventoriesFor(n): n decisions in flight on n distinct slices all decide", async () => {
    expect(await failures(residentInventoriesFor(128), 128)).toEqual([]);
  }, 60_000);

  it("the old sizing (64 slices for 128 in flight) failed queued decisions: the case above is not vacuous", async () => {
    const failed = await failures(64, 128);
    console.log(`old sizing: ${failed.length} of 128 queued decisions failed`);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed[0]).toMatch(/inventory \d+.*resident/);
  }, 60_000);
});
