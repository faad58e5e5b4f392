/**
 * Everything a process needs to follow the kernel's rollout, in one call: opens the registry, verifies with the
 * process's trusted keys, starts a ModuleRouter on the shipped build, applies the current state and follows
 * changes; an automatic rollback is requested from the rollout steward in the name of `actor`. The gateway passes `router` where it used a
 * KernelPool (it implements the same Kernel port).
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../lib/log/logger.ts";
import { KERNEL_ABI_VERSION, type KernelPoolOptions, readKernelWasm } from "../wasm-core/src/mod.ts";
import { kernelModuleKind } from "./kernel-module-kind.ts";
import { KeyRevocations } from "./key-revocations.ts";
import type { ModuleConfig } from "./module-config.ts";
import { ModuleRegistry } from "./module-registry.ts";
import { reportPeriodically, toModuleReport } from "./module-report.ts";
import { ModuleRouter } from "./module-router.ts";
import { ModuleVerifier } from "./module-verifier.ts";
import { ModuleWatcher } from "./module-watcher.ts";
import { rollbackOverNats } from "./rollback-requests.ts";
import { followTrustedKeys } from "./trusted-keys-file.ts";
import { VersionHealth } from "./version-health.ts";

export interface KernelModulesOptions {
  js: JetStreamClient;
  /** Where automatic rollbacks are requested from the rollout steward (rollback-requests.ts). */
  nc: NatsConnection;
  config: ModuleConfig;
  /** Process name, recorded as the actor of automatic rollbacks. */
  actor: string;
  logger: Logger;
  /** Main pool settings (size, capacity, call time limit). */
  pool?: Omit<KernelPoolOptions, "moduleBytes" | "moduleVersion">;
  /** Defaults to the keys in config.trustedKeysFile. */
  verifier?: ModuleVerifier;
  /** Defaults to the shipped SIMD build as version "builtin-abi<N>". */
  initial?: { version: string; bytes: Uint8Array };
}

export interface KernelModules {
  router: ModuleRouter;
  watcher: ModuleWatcher;
  close(): Promise<void>;
}

export async function startKernelModules(options: KernelModulesOptions): Promise<KernelModules> {
  const { config, actor, logger } = options;
  const registry = await ModuleRegistry.open(options.js);
  const verifier = options.verifier ?? ModuleVerifier.fromConfig(config, { kernel: kernelModuleKind });
  const revocations = await KeyRevocations.open(registry.states, logger);
  // Only the operator side writes module state: the rollout steward applies it (rollback-requests.ts).
  const rollback = rollbackOverNats(options.nc, "kernel", actor);
  const watcher = new ModuleWatcher(registry, verifier, "kernel", logger.child({ component: "module-watcher" }), {
    revocations,
    rollback,
  });
  const router = new ModuleRouter({
    initial: options.initial ?? { version: `builtin-abi${KERNEL_ABI_VERSION}`, bytes: readKernelWasm("simd") },
    pool: options.pool,
    config,
    rollback,
    health: new VersionHealth(registry.states, "kernel", logger, config.healthFlushMs),
    logger: logger.child({ component: "module-router" }),
  });
  await router.ready();
  watcher.onChange((view) => router.apply(view));
  await router.apply(await watcher.start());
  // Keys added to (or expiries set in) the trusted-keys file apply without a restart; a given verifier is the caller's.
  const stopKeys = options.verifier
    ? () => {}
    : followTrustedKeys(config.trustedKeysFile, [verifier], () => watcher.recheck(), logger, config.trustedKeysPollMs);
  const stopReports = reportPeriodically(
    registry,
    () => toModuleReport(actor, "kernel", router.stats(), watcher.view?.refused),
    config.reportIntervalMs,
    logger,
  );
  return {
    router,
    watcher,
    async close() {
      stopReports();
      stopKeys();
      watcher.stop();
      revocations.stop();
      await router.close();
    },
  };
}
