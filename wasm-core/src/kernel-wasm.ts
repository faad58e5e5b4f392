/** The kernel builds shipped in wasm-core/build (made by `npm run build:wasm`). */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export type KernelVariant = "simd" | "scalar";

/**
 * Path of a build. Looked up beside the sources (tsx, vitest) and then from the compiled tree
 * (dist/wasm-core/src -> wasm-core/build), since tsc does not copy .wasm files.
 */
export function kernelWasmPath(variant: KernelVariant): string {
  const name = `kernel-${variant}.wasm`;
  const candidates = [
    new URL(`../build/${name}`, import.meta.url),
    new URL(`../../../wasm-core/build/${name}`, import.meta.url),
  ];
  const found = candidates.find((url) => existsSync(url));
  if (found === undefined) throw new Error(`${name} not found; run npm run build:wasm`);
  return fileURLToPath(found);
}

export function readKernelWasm(variant: KernelVariant): Uint8Array {
  return new Uint8Array(readFileSync(kernelWasmPath(variant)));
}
