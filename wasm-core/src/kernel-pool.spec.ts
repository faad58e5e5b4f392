import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffKernelResults } from "./kernel-diff.ts";
import {
  KernelClosedError,
  KernelInventoryMismatchError,
  KernelModuleError,
  KernelTimeoutError,
  KernelTrapError,
} from "./kernel-errors.ts";
import { makeInventory, makeRequest } from "./kernel-fixtures.ts";
import type { KernelInventory, KernelRequest, KernelResult } from "./kernel-inputs.ts";
import { KernelPool } from "./kernel-pool.ts";
import { decideReference } from "./kernel-reference.ts";
import { readKernelWasm } from "./kernel-wasm.ts";
import { SpinPolicy } from "./kernel-worker.ts";

const chaosBytes = new Uint8Array(readFileSync(new URL("../build/fixtures/chaos-kernel.wasm", import.meta.url)));
const TRAP = -1111;
const SPIN_FOREVER = -2222;
const capacity = { maxCandidates: 2000, maxDimensions: 32, maxAgents: 8 };

function expectReference(result: KernelResult, inventory: KernelInventory, request: KernelRequest): void {
  expect(diffKernelResults(result, decideReference(inventory, request), 0)).toBeUndefined();
}

function requests(inventory: KernelInventory, count: number, seed: number): KernelRequest[] {
  return Array.from({ length: count }, (_, i) => makeRequest(inventory, { seed: seed + i, agents: 8 }));
}

describe("kernel pool - resident inventories past the limit", () => {
  for (const mode of ["pool", "inline"] as const) {
    it(`${mode}: drops the oldest, refuses it, and takes it back once added again`, async () => {
      const pool = new KernelPool({
        mode,
        moduleBytes: readKernelWasm("simd"),
        moduleVersion: "simd-1",
        capacity,
        residentInventories: 2,
      });
      try {
        await pool.ready();
        const inventories = [1, 2, 3].map((seed) =>
          makeInventory({ seed, candidates: 50 * seed, dimensions: 16, version: 1000 + seed }),
        );
        for (const inv of inventories) pool.setInventory(inv);
        const [first, second, third] = inventories as [KernelInventory, KernelInventory, KernelInventory];
        await expect(pool.decide(makeRequest(first, { seed: 1, agents: 3 }))).rejects.toThrow(
          KernelInventoryMismatchError,
        );
        for (const inv of [second, third, second]) {
          const request = makeRequest(inv, { seed: inv.version, agents: 3 });
          expectReference(await pool.decide(request), inv, request);
        }
        pool.setInventory(first);
        const request = makeRequest(first, { seed: 9, agents: 3 });
        expectReference(await pool.decide(request), first, request);
      } finally {
        await pool.close();
      }
    });
  }
});

describe("kernel pool - two workers, SIMD module", () => {
  const inventory = makeInventory({ seed: 1, candidates: 1000, dimensions: 32 });
  let pool: KernelPool;

  beforeAll(async () => {
    pool = new KernelPool({
      size: 2,
      moduleBytes: readKernelWasm("simd"),
      moduleVersion: "simd-1",
      capacity,
      queueDepth: 16,
    });
    pool.setInventory(inventory);
    await pool.ready();
  });
  afterAll(() => pool.close());

  it("writes every waiting decision into the rings at once and answers each like the reference", async () => {
    // 1,500 waiting decisions (16 distinct requests): more than the queue compacts at, in one burst.
    const distinct = requests(inventory, 16, 10);
    const expected = distinct.map((r) => decideReference(inventory, r));
    const pending = Array.from({ length: 1500 }, (_, i) => pool.decide(distinct[i % 16]!));
    const { inFlight, queued } = pool.stats();
    expect(inFlight).toBe(32); // two rings of 16 slots, filled before any worker answered
    expect(queued).toBe(1468);
    const results = await Promise.all(pending);
    results.forEach((result, i) => {
      expect(result.moduleVersion).toBe("simd-1");
      expect(diffKernelResults(result, expected[i % 16]!, 0)).toBeUndefined();
    });
    expect(pool.stats()).toMatchObject({ inFlight: 0, queued: 0 });
    expect(pool.stats().workerThreadIds).toHaveLength(2);
  });

  it("keeps several inventories resident: interleaved decisions on each match the reference", async () => {
    const next = makeInventory({ seed: 2, candidates: 1500, dimensions: 24, version: 0xffff_fff0 });
    pool.setInventory(next);
    const mixed = Array.from({ length: 60 }, (_, i) => {
      const on = i % 3 === 0 ? inventory : next;
      return { on, request: makeRequest(on, { seed: 300 + i, agents: 5 }) };
    });
    const results = await Promise.all(mixed.map(({ request }) => pool.decide(request)));
    results.forEach((result, i) => {
      expectReference(result, mixed[i]!.on, mixed[i]!.request);
    });
    const unknown = makeInventory({ seed: 5, candidates: 10, dimensions: 24, version: 77 });
    await expect(pool.decide(makeRequest(unknown, { seed: 4, agents: 5 }))).rejects.toThrow(
      KernelInventoryMismatchError,
    );
    pool.setInventory(inventory);
  });

  it("swaps the module at a decision boundary: later decisions report and use the new version", async () => {
    const beforeRequests = requests(inventory, 40, 100);
    const before = beforeRequests.map((r) => pool.decide(r));
    pool.setModule("scalar-2", readKernelWasm("scalar"));
    const afterRequests = requests(inventory, 40, 200);
    const after = afterRequests.map((r) => pool.decide(r));
    // Decisions made before the swap may have run on either module; each says which, and is right.
    (await Promise.all(before)).forEach((result, i) => {
      expect(["simd-1", "scalar-2"]).toContain(result.moduleVersion);
      expectReference(result, inventory, beforeRequests[i]!);
    });
    const afterResults = await Promise.all(after);
    afterResults.forEach((result, i) => {
      expect(result.moduleVersion).toBe("scalar-2");
      expectReference(result, inventory, afterRequests[i]!);
    });
    expect(pool.moduleVersion).toBe("scalar-2");
  });

  it("keeps the current module when a candidate module is invalid", async () => {
    expect(() => pool.setModule("broken", new Uint8Array([0, 97, 115, 109, 1]))).toThrow(KernelModuleError);
    expect(pool.moduleVersion).toBe("scalar-2");
    const request = makeRequest(inventory, { seed: 300, agents: 2 });
    expect((await pool.decide(request)).moduleVersion).toBe("scalar-2");
  });
});

describe("kernel pool - a module that traps or runs away", () => {
  const inventory = makeInventory({ seed: 5, candidates: 500, dimensions: 32 });
  let pool: KernelPool;

  beforeAll(async () => {
    // A generous budget: the test box is shared, and a descheduled worker must not count as a runaway.
    pool = new KernelPool({ size: 1, moduleBytes: chaosBytes, moduleVersion: "chaos", capacity, callTimeoutMs: 500 });
    pool.setInventory(inventory);
    await pool.ready();
  });
  afterAll(() => pool.close());

  it("a trap fails that decision only; queued decisions run on the replacement worker", async () => {
    const [worker] = pool.stats().workerThreadIds;
    const [first, bad, ...rest] = requests(inventory, 6, 20);
    const trapping = { ...bad!, reservePrice: TRAP };
    const settled = await Promise.allSettled([first!, trapping, ...rest].map((r) => pool.decide(r)));
    expect(settled[1]).toMatchObject({ status: "rejected", reason: expect.any(KernelTrapError) });
    expect((settled[1] as PromiseRejectedResult).reason.message).toMatch(
      /module chaos trapped: .*unreachable.*worker is replaced/,
    );
    const others = [first!, ...rest];
    [settled[0], ...settled.slice(2)].forEach((outcome, i) => {
      expect(outcome.status).toBe("fulfilled");
      expectReference((outcome as PromiseFulfilledResult<KernelResult>).value, inventory, others[i]!);
    });
    expect(pool.stats().replacedWorkers).toEqual({ trap: 1, timeout: 0, lost: 0 });
    expect(pool.stats().workerThreadIds).toHaveLength(1);
    expect(pool.stats().workerThreadIds).not.toContain(worker);
  });

  it("a call past its budget fails that decision only; the worker is replaced and the pool keeps serving", async () => {
    const [worker] = pool.stats().workerThreadIds;
    const [first, bad, last] = requests(inventory, 3, 40);
    const started = performance.now();
    const settled = await Promise.allSettled(
      [first!, { ...bad!, reservePrice: SPIN_FOREVER }, last!].map((r) => pool.decide(r)),
    );
    const elapsed = performance.now() - started;
    expect(settled[1]).toMatchObject({ status: "rejected", reason: expect.any(KernelTimeoutError) });
    expect(settled[0]!.status).toBe("fulfilled");
    expect(settled[2]!.status).toBe("fulfilled");
    expectReference((settled[2] as PromiseFulfilledResult<KernelResult>).value, inventory, last!);
    expect(elapsed).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeLessThan(10_000);
    expect(pool.stats().replacedWorkers).toEqual({ trap: 1, timeout: 1, lost: 0 });
    expect(pool.stats().workerThreadIds).not.toContain(worker);
    const after = makeRequest(inventory, { seed: 50, agents: 8 });
    expectReference(await pool.decide(after), inventory, after);
  });
});

describe("kernel pool - inline mode and closing", () => {
  const inventory = makeInventory({ seed: 6, candidates: 300, dimensions: 32 });

  it("inline: same answers, a trap fails one decision and the instance is recreated", async () => {
    const pool = new KernelPool({ mode: "inline", moduleBytes: chaosBytes, moduleVersion: "chaos", capacity });
    pool.setInventory(inventory);
    const [a, b] = requests(inventory, 2, 60);
    expectReference(await pool.decide(a!), inventory, a!);
    await expect(pool.decide({ ...b!, reservePrice: TRAP })).rejects.toThrow(KernelTrapError);
    expectReference(await pool.decide(b!), inventory, b!);
    await pool.close();
  });

  it("close lets accepted decisions finish and refuses new ones", async () => {
    const pool = new KernelPool({ moduleBytes: readKernelWasm("simd"), moduleVersion: "simd", capacity });
    pool.setInventory(inventory);
    const accepted = requests(inventory, 10, 70).map((r) => pool.decide(r));
    const closing = pool.close();
    await expect(pool.decide(makeRequest(inventory, { seed: 1, agents: 1 }))).rejects.toThrow(KernelClosedError);
    expect((await Promise.all(accepted)).length).toBe(10);
    await closing;
  });

  it("close while a decision runs away: that decision times out and close returns (it waited forever before)", async () => {
    const pool = new KernelPool({
      size: 1,
      moduleBytes: chaosBytes,
      moduleVersion: "chaos",
      capacity,
      callTimeoutMs: 300,
    });
    pool.setInventory(inventory);
    await pool.ready();
    const [bad] = requests(inventory, 1, 80);
    const runaway = pool.decide({ ...bad!, reservePrice: SPIN_FOREVER });
    await new Promise((resolve) => setTimeout(resolve, 50)); // the worker is in the loop
    const closed = pool.close().then(() => "closed");
    await expect(runaway).rejects.toThrow(KernelTimeoutError);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(resolve, 10_000, "still waiting");
    });
    expect(await Promise.race([closed, timeout])).toBe("closed");
    clearTimeout(timer);
  });
});

describe("kernel pool - adaptive worker spin", () => {
  const recordAll = (policy: SpinPolicy, gaps: number[]) => {
    for (const gap of gaps) policy.record(gap);
  };

  it("spins twice the median recent gap, at least 50 us, at most the cap; never before traffic or with cap 0", () => {
    const policy = new SpinPolicy(1500);
    expect(policy.windowMicros(0)).toBe(0); // no traffic seen yet
    recordAll(policy, [200, 180, 220, 5000, 200, 190, 210, 200]);
    expect(policy.windowMicros(0)).toBe(400); // one long gap does not move the median
    recordAll(policy, Array(8).fill(10));
    expect(policy.windowMicros(0)).toBe(50);
    recordAll(policy, Array(8).fill(980)); // 1,000 decisions/s
    expect(policy.windowMicros(0)).toBe(1500);
    const off = new SpinPolicy(0);
    recordAll(off, Array(8).fill(100));
    expect(off.windowMicros(0)).toBe(0);
  });

  it("stops spinning when traffic slows past the cap or stops", () => {
    const policy = new SpinPolicy(1500);
    recordAll(policy, Array(8).fill(300));
    recordAll(policy, [4000, 60_000, 2e6, 3e6, 5e6]); // traffic stopped: most recent gaps are long
    expect(policy.windowMicros(0)).toBe(0);
    recordAll(policy, Array(5).fill(300)); // back again
    expect(policy.windowMicros(0)).toBe(600);
  });

  it("keeps spinning through occasional preemption, backs off 100 ms when spins are often descheduled", () => {
    const policy = new SpinPolicy(1500);
    recordAll(policy, Array(8).fill(300));
    // 40 ms of spinning with 3 ms descheduled (7.5%): a light background load.
    for (let i = 0; i < 40; i++) policy.spun(i, 1, i % 13 === 0 ? 1 : 0);
    expect(policy.windowMicros(40)).toBe(600);
    // Then more than a fifth of the spin time descheduled: an oversubscribed host.
    let now = 40;
    while (policy.windowMicros(now) > 0 && now < 100) policy.spun(++now, 1, 0.5);
    expect(policy.windowMicros(now)).toBe(0);
    expect(policy.windowMicros(now + 99)).toBe(0);
    expect(policy.windowMicros(now + 101)).toBe(600);
  });

  it("an idle pool burns no CPU once traffic stops", async () => {
    const inventory = makeInventory({ seed: 7, candidates: 1000, dimensions: 32 });
    const pool = new KernelPool({ size: 2, moduleBytes: readKernelWasm("simd"), moduleVersion: "simd", capacity });
    pool.setInventory(inventory);
    await pool.ready();
    const batch = requests(inventory, 8, 80);
    // Steady traffic, a decision about every 200 us, so that the workers learn to spin.
    const started = performance.now();
    const pending: Promise<KernelResult>[] = [];
    for (let i = 0; i < 1000; i++) {
      while (performance.now() - started < i * 0.2) await new Promise((resolve) => setImmediate(resolve));
      pending.push(pool.decide(batch[i % 8]!));
    }
    expect((await Promise.all(pending)).length).toBe(1000);
    await new Promise((resolve) => setTimeout(resolve, 20)); // the last spin window (at most 1.5 ms) ends
    const cpu = process.cpuUsage();
    const idleFrom = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const used = process.cpuUsage(cpu);
    const share = (used.user + used.system) / 1000 / (performance.now() - idleFrom);
    expect(share).toBeLessThan(0.2); // a spinning worker would show about 1 (one core)
    await pool.close();
  });
});
