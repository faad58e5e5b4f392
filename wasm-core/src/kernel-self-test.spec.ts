import { readFileSync } from "node:fs";
import binaryen from "assemblyscript/binaryen";
import { describe, expect, it } from "vitest";
import { goldenCases } from "./kernel-fixtures.ts";
import { selfTestKernel } from "./kernel-self-test.ts";
import { readKernelWasm } from "./kernel-wasm.ts";

/** Valid ABI and a roomy layout, but decide() finds nothing: a module that loads yet is wrong. */
function emptyHandedKernel(configure = "(i32.const 0)"): Uint8Array {
  const module = binaryen.parseText(`(module
    (memory (export "memory") 512)
    (global (export "ABI_VERSION") i32 (i32.const 1))
    (global (export "KERNEL_SIMD") i32 (i32.const 0))
    (global (export "MAX_ADS") i32 (i32.const 16))
    (func (export "configure") (param i32 i32 i32) (result i32) ${configure})
    (func (export "regionOffset") (param i32) (result i32)
      (i32.add (i32.const 16) (i32.mul (local.get 0) (i32.const 1310720))))
    (func (export "decide") (param i32 i32 i32 f32 f32 i32 i32 i32) (result i32) (i32.const 0)))`);
  try {
    return module.emitBinary();
  } finally {
    module.dispose();
  }
}

describe("kernel self-test - golden inputs through a candidate module", () => {
  it("passes the shipped build", async () => {
    const report = await selfTestKernel(readKernelWasm("simd"), { moduleVersion: "simd" });
    expect(report.failures).toEqual([]);
    expect(report).toMatchObject({ ok: true, passed: goldenCases().length });
  });

  it("fails a module that loads but decides wrongly, naming the cases", async () => {
    const report = await selfTestKernel(emptyHandedKernel(), { moduleVersion: "empty-handed" });
    expect(report.ok).toBe(false);
    expect(report.failures.map((f) => f.case)).toContain("typical N=1000 D=32 A=8");
    expect(report.failures[0]!.reason).toMatch(/^count 0, expected 6/);
    // Cases where the right answer is an empty pod with no eligible candidates still pass.
    expect(report.passed).toBeGreaterThan(0);
  });

  it("fails a module that never returns, within its budget, without hanging the caller", async () => {
    const chaos = new Uint8Array(readFileSync(new URL("../build/fixtures/chaos-kernel.wasm", import.meta.url)));
    const [normal] = goldenCases();
    const cases = [normal!, { ...normal!, name: "runaway", request: { ...normal!.request, reservePrice: -2222 } }];
    const report = await selfTestKernel(chaos, { moduleVersion: "chaos", callTimeoutMs: 300, cases });
    expect(report.passed).toBe(1);
    expect(report.failures).toEqual([
      { case: "runaway", reason: expect.stringMatching(/^KernelTimeoutError: decision exceeded 300 ms/) },
    ]);
  });

  it("fails a module whose configure never returns, without running it on the caller's thread", async () => {
    const forever = "(loop $again (br $again)) (i32.const 0)";
    const [normal] = goldenCases();
    const report = await selfTestKernel(emptyHandedKernel(forever), {
      moduleVersion: "stuck",
      callTimeoutMs: 300,
      cases: [normal!],
    });
    expect(report.failures).toEqual([
      { case: normal!.name, reason: expect.stringMatching(/^KernelTimeoutError: decision exceeded 300 ms/) },
    ]);
  });

  it("reports bytes that do not load", async () => {
    const report = await selfTestKernel(new Uint8Array([1, 2, 3]), { moduleVersion: "junk" });
    expect(report).toMatchObject({ ok: false, passed: 0, failures: [{ case: "load" }] });
  });
});
