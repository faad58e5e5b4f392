import type { ModuleStateChange } from "../../gen/chorus/v1/module_pb.ts";
/**
 * A hot-swap test bench: a real nats-server, the module registry, a signing key trusted by the verifier, the
 * rollout operations (what the CLI runs), and "gateway processes" made of a ModuleWatcher and a ModuleRouter
 * over real KernelPools. `runLoad` drives any `Decide` function, so the same test can later be pointed at the
 * gateway over HTTP/2.
 */

import type { ModuleManifest } from "../../gen/chorus/v1/module_pb.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { type NatsFixture, startNats } from "../../lib/testing/nats-fixture.ts";
import {
  KERNEL_ABI_VERSION,
  type KernelInventory,
  type KernelRequest,
  makeInventory,
  makeRequest,
  readKernelWasm,
} from "../../wasm-core/src/mod.ts";
import { kernelModuleKind } from "../kernel-module-kind.ts";
import { signManifest } from "../manifest-signature.ts";
import type { ModuleConfig } from "../module-config.ts";
import { ModuleOperations } from "../module-operations.ts";
import { ModuleRegistry } from "../module-registry.ts";
import type { ModuleRouter } from "../module-router.ts";
import { ModuleVerifier } from "../module-verifier.ts";
import { serveRollbackRequests } from "../rollback-requests.ts";
import { generateSigningKey, parsePrivateKey, TrustedKeys } from "../signing-keys.ts";
import { type KernelModules, type KernelModulesOptions, startKernelModules } from "../start-kernel-modules.ts";
import { buildKernelVariant, kernelVariants } from "./kernel-variants.ts";

export const logger = createLogger("hot-swap-test", process.env.LOG_LEVEL ?? "silent");

export const testConfig: ModuleConfig = {
  trustedKeysFile: "",
  trustedKeysPollMs: 2_000,
  // Room for a loaded two-core machine: a healthy case must not pass its share of the budget.
  selfTestBudgetMs: 3_000,
  signaturesRequired: 1,
  maxMemoryMb: 0,
  callTimeoutMs: 150,
  agentCallTimeoutMs: 20,
  agentMaxMemoryMb: 64,
  rollbackErrorRate: 0.05,
  rollbackMinCalls: 5,
  rollbackWindow: 100,
  probationMs: 30_000,
  probationCalls: 20,
  hangLimit: 3,
  hangWindowMs: 600_000,
  healthFlushMs: 200,
  shadowMaxInFlight: 4,
  reportIntervalMs: 200,
};

export const CAPACITY = { maxCandidates: 256, maxDimensions: 16, maxAgents: 8 };
/** Reserve price of the live requests; no golden case uses it (faulty test modules key on it). */
export const LIVE_RESERVE = 50;
export const inventory: KernelInventory = makeInventory({ seed: 42, candidates: 200, dimensions: 16 });
/** Varied requests; vetoes are common so that a module ignoring them picks other pods. */
export const requests: KernelRequest[] = Array.from({ length: 64 }, (_, i) =>
  makeRequest(inventory, { seed: 1000 + i, agents: 6, vetoRate: 0.3, reservePrice: LIVE_RESERVE }),
);

export interface HotSwapBench {
  nats: NatsFixture;
  registry: ModuleRegistry;
  verifier: ModuleVerifier;
  operations: ModuleOperations;
  /** Signs and publishes a variant (kernelVariants source) or the shipped kernel (undefined source). */
  publish(version: string, source?: string): Promise<void>;
  /** A manifest for `bytes` signed by the trusted key (for storing around the checks). */
  sign(bytes: Uint8Array, version: string): ModuleManifest;
  /** A gateway-like process: its own NATS connection, watcher and router, following the module state. */
  startProcess(
    name: string,
    config?: Partial<ModuleConfig>,
    pool?: Partial<NonNullable<KernelModulesOptions["pool"]>>,
  ): Promise<KernelModules>;
  /** Resolves with the last history entry once the shared state gives `version` no role any more. */
  rolledBack(version: string): Promise<ModuleStateChange>;
  cleanup(): Promise<void>;
}

export async function startHotSwapBench(): Promise<HotSwapBench> {
  const nats = await startNats();
  const registry = await ModuleRegistry.open(nats.js);
  const key = generateSigningKey();
  // One verifier for the bench and its processes: each process's watcher still runs every check itself, but
  // the self-test outcome (cached by sha256) is shared, which saves a worker pool start-up per process.
  const verifier = new ModuleVerifier({
    trustedKeys: TrustedKeys.parse(key.publicKeyPem),
    kinds: { kernel: kernelModuleKind },
    selfTestBudgetMs: testConfig.selfTestBudgetMs,
  });
  const operations = new ModuleOperations(registry, verifier, "test@bench");
  // The operator side: applies the automatic rollbacks the processes ask for (rollback-requests.ts).
  const steward = serveRollbackRequests(nats.nc, registry, logger);
  const processes: KernelModules[] = [];
  return {
    nats,
    registry,
    verifier,
    operations,
    async publish(version, source) {
      const bytes = source === undefined ? readKernelWasm("simd") : await buildKernelVariant(source);
      await operations.publish(bytes, {
        module: "kernel",
        version,
        abiVersion: KERNEL_ABI_VERSION,
        privateKey: parsePrivateKey(key.privateKeyPem),
        author: "test@bench",
        notes: `test build ${version}`,
      });
    },
    sign(bytes, version) {
      const fields = { module: "kernel", version, abiVersion: KERNEL_ABI_VERSION, author: "test@bench" };
      return signManifest(bytes, fields, parsePrivateKey(key.privateKeyPem));
    },
    async startProcess(name, config, pool) {
      const { jetstream } = await import("@nats-io/jetstream");
      const nc = await nats.connect(name);
      const process = await startKernelModules({
        js: jetstream(nc),
        nc,
        config: { ...testConfig, ...config },
        actor: name,
        logger: logger.child({ process: name }),
        // Generous: on a shared two-core machine a healthy call can wait behind a worker start-up.
        pool: { capacity: CAPACITY, size: 1, callTimeoutMs: 2_000, ...pool },
        verifier,
        initial: { version: "builtin", bytes: readKernelWasm("simd") },
      });
      // The inventory arrives after start, as in the gateway (the router hands it to every pool it starts).
      process.router.setInventory(inventory);
      processes.push(process);
      return process;
    },
    rolledBack(version) {
      return eventually(async () => {
        const state = await operations.state("kernel");
        const roles = [state.activeVersion, state.canaryVersion, state.shadowVersion];
        return roles.includes(version) ? undefined : state.history.at(-1);
      });
    },
    async cleanup() {
      await Promise.allSettled(processes.map((p) => p.close()));
      steward.unsubscribe();
      await nats.cleanup();
    },
  };
}

/** One decision as a client sees it. */
export interface DecideOutcome {
  moduleVersion: string;
  servedBy?: string;
}
export type Decide = (decisionId: string, requestIndex: number) => Promise<DecideOutcome>;

export interface LoadReport {
  outcomes: Array<DecideOutcome & { decisionId: string; at: number }>;
  errors: Array<{ decisionId: string; error: unknown }>;
}

/** Keeps `concurrency` decisions in flight until `until` resolves; records every outcome and error in order. */
export async function runLoad(decide: Decide, until: Promise<unknown>, concurrency = 6): Promise<LoadReport> {
  const report: LoadReport = { outcomes: [], errors: [] };
  let stop = false;
  let next = 0;
  void until.finally(() => {
    stop = true;
  });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!stop) {
        const n = next++;
        const decisionId = `decision-${n}`;
        try {
          report.outcomes.push({ ...(await decide(decisionId, n % requests.length)), decisionId, at: Date.now() });
        } catch (error) {
          report.errors.push({ decisionId, error });
        }
        // A decision the reference kernel or an inline pool makes settles at once: without a turn of the event loop
        // the callers would run on microtasks alone and starve every timer and socket (watch, rollback, deadlines).
        await new Promise(setImmediate);
      }
    }),
  );
  await until;
  return report;
}

/** The router as a Decide function. */
export function routerDecide(router: ModuleRouter): Decide {
  return async (decisionId, i) => {
    const { result, servedBy } = await router.route(decisionId, requests[i]!);
    return { moduleVersion: result.moduleVersion, servedBy };
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** The usual starting point of a rollout test: a bench whose kernel 1.0.0 (build 1) is published and active. */
export async function startHotSwapBenchWithActiveKernel(): Promise<HotSwapBench> {
  const bench = await startHotSwapBench();
  await bench.publish("1.0.0", kernelVariants.build(1));
  await bench.operations.activate("kernel", "1.0.0");
  return bench;
}
