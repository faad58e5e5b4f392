/**
 * Golden inputs through a candidate module, compared with the TypeScript reference: what the hot-swap path
 * runs before activating a module. It uses a one-worker KernelPool, so a candidate that traps or never
 * returns fails its case instead of hanging the caller.
 */

import { diffKernelResults } from "./kernel-diff.ts";
import { goldenCases, type KernelCase } from "./kernel-fixtures.ts";
import type { KernelCapacity } from "./kernel-inputs.ts";
import { KernelPool } from "./kernel-pool.ts";
import { decideReference } from "./kernel-reference.ts";

export interface SelfTestFailure {
  readonly case: string;
  readonly reason: string;
}

export interface SelfTestReport {
  readonly moduleVersion: string;
  readonly ok: boolean;
  readonly passed: number;
  readonly failures: readonly SelfTestFailure[];
}

export interface SelfTestOptions {
  readonly moduleVersion: string;
  /** Per-case budget (default 1,000 ms: generous, a case takes microseconds). */
  readonly callTimeoutMs?: number;
  /** Defaults to goldenCases(). */
  readonly cases?: readonly KernelCase[];
}

function capacityFor(cases: readonly KernelCase[]): KernelCapacity {
  return {
    maxCandidates: Math.max(1, ...cases.map((c) => c.inventory.candidates)),
    maxDimensions: Math.max(1, ...cases.map((c) => c.inventory.dimensions)),
    maxAgents: Math.max(0, ...cases.map((c) => c.request.weights.length)),
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export async function selfTestKernel(moduleBytes: Uint8Array, options: SelfTestOptions): Promise<SelfTestReport> {
  const cases = options.cases ?? goldenCases();
  const { moduleVersion } = options;
  let pool: KernelPool;
  try {
    pool = new KernelPool({
      mode: "pool",
      size: 1,
      moduleBytes,
      moduleVersion,
      callTimeoutMs: options.callTimeoutMs ?? 1000,
      capacity: capacityFor(cases),
      queueDepth: 1,
      spinMicros: 0,
    });
  } catch (error) {
    return { moduleVersion, ok: false, passed: 0, failures: [{ case: "load", reason: messageOf(error) }] };
  }
  const failures: SelfTestFailure[] = [];
  try {
    for (const [index, testCase] of cases.entries()) {
      // Each case gets its own inventory version, so a stale inventory cannot pass by accident.
      const inventory = { ...testCase.inventory, version: index + 1 };
      pool.setInventory(inventory);
      try {
        const actual = await pool.decide({ ...testCase.request, inventoryVersion: inventory.version });
        const reason = diffKernelResults(
          actual,
          decideReference(inventory, { ...testCase.request, inventoryVersion: index + 1 }),
        );
        if (reason !== undefined) failures.push({ case: testCase.name, reason });
      } catch (error) {
        failures.push({ case: testCase.name, reason: messageOf(error) });
      }
    }
  } finally {
    await pool.close();
  }
  return { moduleVersion, ok: failures.length === 0, passed: cases.length - failures.length, failures };
}
