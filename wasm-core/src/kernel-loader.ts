/**
 * Turns bytes into a kernel instance, refusing anything that is not exactly a kernel of this ABI:
 * bytes that do not compile, any import (a kernel is pure), a start function (it would run during
 * instantiation, on the caller's thread), a missing or mistyped export, a function signature that differs,
 * another ABI_VERSION, or a memory layout smaller than the host's table.
 */
import {
  describeKernelStatus,
  KERNEL_ABI_VERSION,
  KERNEL_EXPORTS,
  type KernelExports,
  MAX_ADS,
  Region,
  regionElements,
} from "./kernel-abi.ts";
import { checkCapacity } from "./kernel-checks.ts";
import { KernelModuleError } from "./kernel-errors.ts";
import type { KernelCapacity } from "./kernel-inputs.ts";
import { KernelInstance } from "./kernel-instance.ts";

/** Function exports and their signatures, params -> results. */
const SIGNATURES: Record<string, string> = {
  configure: "i32,i32,i32->i32",
  regionOffset: "i32->i32",
  decide: "i32,i32,i32,f32,f32,i32,i32,i32->i32",
};

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Compiles and validates kernel bytes. Synchronous on purpose (a kernel is a few kilobytes, and Node has no
 * main-thread size limit), so a bad module fails the call that brought it. The module can be posted to
 * workers and instantiated there.
 */
export function compileKernel(bytes: Uint8Array): WebAssembly.Module {
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (error) {
    throw new KernelModuleError(`bytes are not a valid WebAssembly module: ${messageOf(error)}`, { cause: error });
  }
  validateKernelModule(module);
  const { signatures, hasStart } = readBinary(bytes);
  if (hasStart) {
    throw new KernelModuleError(
      "a kernel module must not have a start function: it would run on instantiation, outside any time budget",
    );
  }
  for (const [name, expected] of Object.entries(SIGNATURES)) {
    if (signatures.get(name) !== expected) {
      throw new KernelModuleError(`export ${name} has signature ${signatures.get(name)}, expected ${expected}`);
    }
  }
  // Safe to instantiate here: with no start function and no imports, no module code runs.
  checkGlobals(instantiate(module));
  return module;
}

function instantiate(module: WebAssembly.Module): KernelExports {
  try {
    return new WebAssembly.Instance(module, {}).exports as unknown as KernelExports;
  } catch (error) {
    throw new KernelModuleError(`instantiation failed: ${messageOf(error)}`, { cause: error });
  }
}

function checkGlobals(exports: KernelExports): void {
  const abi: unknown = exports.ABI_VERSION.value;
  if (abi !== KERNEL_ABI_VERSION) {
    throw new KernelModuleError(`module ABI version is ${String(abi)}, this host speaks ${KERNEL_ABI_VERSION}`);
  }
  if (exports.MAX_ADS.value !== MAX_ADS) {
    throw new KernelModuleError(`module MAX_ADS is ${String(exports.MAX_ADS.value)}, this host expects ${MAX_ADS}`);
  }
}

/** Checks imports and export names/kinds of a compiled module (all that the JS API can see). */
export function validateKernelModule(module: WebAssembly.Module): void {
  const imports = WebAssembly.Module.imports(module);
  if (imports.length > 0) {
    const names = imports.map((i) => `${i.module}.${i.name}`).join(", ");
    throw new KernelModuleError(`a kernel module must not import anything; it imports ${names}`);
  }
  const exports = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  const problems: string[] = [];
  for (const [name, kind] of Object.entries(KERNEL_EXPORTS)) {
    const actual = exports.get(name);
    if (actual === undefined) problems.push(`missing export ${name} (${kind})`);
    else if (actual !== kind) problems.push(`export ${name} is a ${actual}, expected a ${kind}`);
  }
  if (problems.length > 0) throw new KernelModuleError(problems.join("; "));
}

/**
 * Instantiates a validated module, checks ABI_VERSION, configures memory for `capacity` and checks the layout.
 * This runs module code (`configure`, `regionOffset`): the pool does it only in its workers, under the time budget.
 */
export function instantiateKernel(module: WebAssembly.Module, capacity: KernelCapacity): KernelInstance {
  checkCapacity(capacity);
  validateKernelModule(module);
  const exports = instantiate(module);
  checkGlobals(exports);
  let status: number;
  try {
    status = exports.configure(capacity.maxCandidates, capacity.maxDimensions, capacity.maxAgents);
  } catch (error) {
    throw new KernelModuleError(`configure trapped: ${messageOf(error)}`, { cause: error });
  }
  if (status !== 0) throw new KernelModuleError(`configure failed: ${describeKernelStatus(status)}`);
  const offsets = readLayout(exports, capacity);
  return new KernelInstance(exports, capacity, offsets);
}

/** Compile + validate + instantiate in one step. */
export function loadKernel(bytes: Uint8Array, capacity: KernelCapacity): KernelInstance {
  return instantiateKernel(compileKernel(bytes), capacity);
}

/** Region offsets from the module, checked: 16-byte aligned, in order, large enough, inside memory. */
function readLayout(exports: KernelExports, capacity: KernelCapacity): Int32Array {
  const offsets = new Int32Array(Region.End + 1);
  for (let region = 0; region <= Region.End; region++) offsets[region] = exports.regionOffset(region);
  for (let region = 0; region <= Region.End; region++) {
    const at = offsets[region];
    if (at <= 0 || at % 16 !== 0) throw new KernelModuleError(`region ${region} has offset ${at}, not 16-byte aligned`);
    if (region > 0) {
      const needed = offsets[region - 1] + 4 * regionElements((region - 1) as Region, capacity);
      if (at < needed) throw new KernelModuleError(`region ${region - 1} is smaller than the ABI requires`);
    }
  }
  if (offsets[Region.End] > exports.memory.buffer.byteLength) {
    throw new KernelModuleError("layout ends past the module's memory");
  }
  return offsets;
}

const VALUE_TYPES: Record<number, string> = { 127: "i32", 126: "i64", 125: "f32", 124: "f64", 123: "v128" };

/**
 * What the JS API cannot see, read from the binary: the signatures of exported functions (type, function and
 * export sections; enough for a module without imports) and whether there is a start section.
 */
export function readBinary(bytes: Uint8Array): { signatures: Map<string, string>; hasStart: boolean } {
  let at = 8; // magic + version, already checked by compile
  const u32 = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[at++];
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
  };
  const name = (): string => {
    const length = u32();
    at += length;
    return new TextDecoder().decode(bytes.subarray(at - length, at));
  };
  const valueTypes = (): string[] => Array.from({ length: u32() }, () => VALUE_TYPES[bytes[at++]] ?? "?");

  const types: string[] = [];
  const functionTypes: number[] = [];
  const signatures = new Map<string, string>();
  let hasStart = false;
  while (at < bytes.length) {
    const id = bytes[at++];
    if (id === 8) hasStart = true;
    const size = u32();
    const end = at + size;
    if (id === 1) {
      for (let count = u32(); count > 0; count--) {
        at++; // 0x60, func type
        const params = valueTypes();
        types.push(`${params.join(",")}->${valueTypes().join(",")}`);
      }
    } else if (id === 3) {
      for (let count = u32(); count > 0; count--) functionTypes.push(u32());
    } else if (id === 7) {
      for (let count = u32(); count > 0; count--) {
        const exportName = name();
        const kind = bytes[at++];
        const index = u32();
        if (kind === 0) signatures.set(exportName, types[functionTypes[index]] ?? "?");
      }
    }
    at = end;
  }
  return { signatures, hasStart };
}
