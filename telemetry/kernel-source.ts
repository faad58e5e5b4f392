/**
 * Where replay gets kernel bytes: the built-in kernel shipped in wasm-core/build, a version from the module
 * registry (JetStream object store, modules/), or a file.
 */
import { readFile } from "node:fs/promises";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { ModuleRegistry } from "../modules/module-registry.ts";
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

/** A published kernel version's bytes from the module registry. */
export async function kernelFromRegistry(nc: NatsConnection, version: string): Promise<KernelSource> {
  const registry = await ModuleRegistry.open(jetstream(nc));
  const bytes = await registry.bytes(KERNEL_MODULE, version);
  if (!bytes) throw new Error(`kernel version ${JSON.stringify(version)} is not in the module registry`);
  return { bytes, version };
}
