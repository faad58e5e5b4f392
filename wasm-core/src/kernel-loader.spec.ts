import binaryen from "assemblyscript/binaryen";
import { describe, expect, it } from "vitest";
import { KERNEL_ABI_VERSION } from "./kernel-abi.ts";
import { KernelModuleError } from "./kernel-errors.ts";
import { compileKernel, loadKernel } from "./kernel-loader.ts";
import { readKernelWasm } from "./kernel-wasm.ts";

const capacity = { maxCandidates: 1000, maxDimensions: 32, maxAgents: 8 };

interface Fake {
  abi?: number;
  omit?: string;
  decideParams?: string;
  importAbort?: boolean;
  /** A start function that never returns: it would hang whoever instantiates the module. */
  startLoop?: boolean;
  /** Bytes between region offsets (the real kernel needs far more for this capacity). */
  regionSpacing?: number;
  configureStatus?: number;
}

/** A hand-written module with the kernel's export names, to break one rule at a time. */
function fakeKernel(fake: Fake = {}): Uint8Array {
  const exports = (name: string, text: string): string => (fake.omit === name ? "" : text);
  const wat = `(module
    ${fake.importAbort ? '(import "env" "abort" (func $abort (param i32 i32 i32 i32)))' : ""}
    ${fake.startLoop ? "(func $forever (loop $again (br $again))) (start $forever)" : ""}
    ${exports("memory", '(memory (export "memory") 1)')}
    ${exports("ABI_VERSION", `(global (export "ABI_VERSION") i32 (i32.const ${fake.abi ?? KERNEL_ABI_VERSION}))`)}
    ${exports("KERNEL_SIMD", '(global (export "KERNEL_SIMD") i32 (i32.const 0))')}
    ${exports("MAX_ADS", '(global (export "MAX_ADS") i32 (i32.const 16))')}
    ${exports("configure", `(func (export "configure") (param i32 i32 i32) (result i32) (i32.const ${fake.configureStatus ?? 0}))`)}
    ${exports(
      "regionOffset",
      `(func (export "regionOffset") (param i32) (result i32)
         (i32.mul (i32.add (local.get 0) (i32.const 1)) (i32.const ${fake.regionSpacing ?? 16})))`,
    )}
    ${exports("decide", `(func (export "decide") (param ${fake.decideParams ?? "i32 i32 i32 f32 f32 i32 i32 i32"}) (result i32) (i32.const 0))`)}
  )`;
  const module = binaryen.parseText(wat);
  try {
    return module.emitBinary();
  } finally {
    module.dispose();
  }
}

function expectRefused(bytes: Uint8Array, message: RegExp): void {
  const attempt = () => loadKernel(bytes, capacity);
  expect(attempt).toThrow(KernelModuleError);
  expect(attempt).toThrow(message);
}

describe("kernel loader - accepts real kernels", () => {
  it("loads the SIMD and the scalar build and reports which is which", () => {
    expect(loadKernel(readKernelWasm("simd"), capacity).simd).toBe(true);
    expect(loadKernel(readKernelWasm("scalar"), capacity).simd).toBe(false);
  });

  it("lays memory out for the capacity at load time", () => {
    const small = loadKernel(readKernelWasm("simd"), { maxCandidates: 10, maxDimensions: 8, maxAgents: 1 });
    const large = loadKernel(readKernelWasm("simd"), { maxCandidates: 10_000, maxDimensions: 64, maxAgents: 16 });
    expect(large.memoryBytes).toBeGreaterThan(10_000 * 64 * 4 + 16 * 10_000 * 4);
    expect(small.memoryBytes).toBeLessThan(large.memoryBytes);
  });
});

describe("kernel loader - refuses anything else", () => {
  it("refuses bytes that are not WebAssembly", () => {
    expectRefused(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0xff, 0x00]), /not a valid WebAssembly module/);
    expectRefused(new TextEncoder().encode("<html>not a module</html>"), /not a valid WebAssembly module/);
    expectRefused(new Uint8Array(0), /not a valid WebAssembly module/);
  });

  it("refuses another ABI version", () => {
    expectRefused(fakeKernel({ abi: KERNEL_ABI_VERSION + 1 }), /ABI version is 2, this host speaks 1/);
  });

  it("refuses a missing export, naming it", () => {
    expectRefused(fakeKernel({ omit: "decide" }), /missing export decide \(function\)/);
    expectRefused(fakeKernel({ omit: "ABI_VERSION" }), /missing export ABI_VERSION \(global\)/);
    expectRefused(fakeKernel({ omit: "memory" }), /missing export memory/);
  });

  it("refuses an export with another signature", () => {
    expectRefused(
      fakeKernel({ decideParams: "i32 i32 i32 f32 f32 i32 i32" }),
      /decide has signature i32,i32,i32,f32,f32,i32,i32->i32/,
    );
  });

  it("refuses a module that imports anything", () => {
    expectRefused(fakeKernel({ importAbort: true }), /must not import anything; it imports env.abort/);
  });

  it("refuses a start function before anything runs it", () => {
    expectRefused(fakeKernel({ startLoop: true }), /must not have a start function/);
  });

  it("refuses a layout smaller than the ABI table", () => {
    expectRefused(fakeKernel(), /region 0 is smaller than the ABI requires/);
  });

  it("refuses a module whose configure fails", () => {
    expectRefused(fakeKernel({ configureStatus: -2 }), /configure failed: memory.grow failed/);
  });

  it("compileKernel alone already checks exports and signatures", () => {
    expect(() => compileKernel(fakeKernel({ omit: "regionOffset" }))).toThrow(/missing export regionOffset/);
    expect(() => compileKernel(readKernelWasm("scalar"))).not.toThrow();
  });
});
