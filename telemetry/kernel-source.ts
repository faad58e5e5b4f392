/**
 * Where replay gets kernel bytes: the built-in kernel shipped in wasm-core/build, a version from the module
 * registry (JetStream object store, modules/), or a file.
 */
import { readFile } from "node:fs/promises";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { createLogger } from "../lib/log/logger.ts";
import { kernelModuleKind } from "../modules/kernel-module-kind.ts";
import { KeyRevocations } from "../modules/key-revocations.ts";
import { loadModuleConfig } from "../modules/module-config.ts";
import { ModuleRegistry } from "../modules/module-registry.ts";
import { ModuleRejectedError, RejectionReason } from "../modules/module-rejected-error.ts";
import { ModuleVerifier } from "../modules/module-verifier.ts";
import { readKernelWasm } from "../wasm-core/src/mod.ts";

/** Module name of the voting kernel in the registry and in ModuleVersion entries. */
export const KERNEL_MODULE = "kernel";

export interface KernelSource {
  bytes: Uint8Array;
  /** What the replay reports as the module version. */
  version: string;
}

/** The built-in kernel's SIMD build (every Node that Chorus supports runs WebAssembly SIMD). */
export function builtinKernel(): KernelSource {
  return { bytes: readKernelWasm("simd"), version: "builtin" };
}

export async function kernelFromFile(path: string): Promise<KernelSource> {
  return { bytes: new Uint8Array(await readFile(path)), version: `file:${path}` };
}

/**
 * A published kernel version's bytes from the module registry, fetched under the size cap and run through every
 * check a process runs before loading it but the golden self-test (signature by a trusted, unrevoked, unexpired
 * key; digest; imports, memory, exports) before replay runs a single instruction of it. The self-test is left out
 * on purpose: replay is how one sees what a version that decides differently would have decided. `verifier` defaults to the configured one
 * (CHORUS_TRUSTED_KEYS) with the mesh's revocation list.
 */
export async function kernelFromRegistry(
  nc: NatsConnection,
  version: string,
  verifier?: ModuleVerifier,
): Promise<KernelSource> {
  const registry = await ModuleRegistry.open(jetstream(nc));
  const [manifest, bytes] = await Promise.all([
    registry.manifest(KERNEL_MODULE, version),
    registry.bytes(KERNEL_MODULE, version),
  ]);
  if (!bytes) throw new Error(`kernel version ${JSON.stringify(version)} is not in the module registry`);
  if (!manifest)
    throw new ModuleRejectedError(RejectionReason.InvalidManifest, KERNEL_MODULE, version, "stored without a manifest");
  const checks = verifier ?? ModuleVerifier.fromConfig(loadModuleConfig(), { [KERNEL_MODULE]: kernelModuleKind });
  const revocations = await KeyRevocations.open(registry.states, createLogger("replay", "silent"));
  try {
    checks.useRevocations(revocations);
    await checks.verify(bytes, manifest, { module: KERNEL_MODULE, version }, { selfTest: false });
  } finally {
    revocations.stop();
  }
  return { bytes, version };
}
