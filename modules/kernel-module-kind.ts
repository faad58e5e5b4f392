/**
 * The voting kernel as a module kind: ABI and exports as wasm-core's loader requires them, no imports at all,
 * and wasm-core's self-test (golden cases against the TypeScript reference, in a one-worker KernelPool whose
 * call time limit stops a module that never returns).
 */
import {
  compileKernel,
  goldenCases,
  KERNEL_ABI_VERSION,
  type KernelCase,
  KernelModuleError,
  type SelfTestReport,
  selfTestKernel,
} from "../wasm-core/src/mod.ts";
import { type CheckFailure, type ModuleKind, withSelfTestBackstop } from "./module-kind.ts";
import { RejectionReason } from "./module-rejected-error.ts";

const GOLDEN = goldenCases();

export const kernelModuleKind: ModuleKind = {
  abiVersion: KERNEL_ABI_VERSION,
  allowedImports: new Set(),

  async checkExports(bytes) {
    try {
      compileKernel(bytes);
      return undefined;
    } catch (err) {
      if (err instanceof KernelModuleError) {
        // The loader checks the ABI globals statically too: report that as what it is.
        const reason = /ABI version/.test(err.message) ? RejectionReason.AbiMismatch : RejectionReason.MissingExport;
        return { reason, detail: err.message };
      }
      throw err;
    }
  },

  async selfTest(bytes, version, budgetMs): Promise<CheckFailure | undefined> {
    // Each case gets its share of the budget (a case takes well under a millisecond). One case first: a module
    // that traps or loops on everything then fails after one worker replacement instead of one per case.
    const callTimeoutMs = Math.max(10, Math.floor(budgetMs / GOLDEN.length));
    const run = async (cases: readonly KernelCase[]) =>
      explain(
        await selfTestKernel(bytes, { moduleVersion: version, callTimeoutMs, cases }),
        cases.length,
        callTimeoutMs,
      );
    return withSelfTestBackstop(
      run(GOLDEN.slice(0, 1)).then((f) => f ?? run(GOLDEN.slice(1))),
      4 * budgetMs,
    );
  },
};

function explain(report: SelfTestReport, cases: number, callTimeoutMs: number): CheckFailure | undefined {
  if (report.ok) return undefined;
  const detail = report.failures.map((f) => `${f.case}: ${f.reason}`).join("; ");
  if (report.failures.some((f) => /ABI version/.test(f.reason))) return { reason: RejectionReason.AbiMismatch, detail };
  if (report.failures.some((f) => /KernelTimeoutError/.test(f.reason))) {
    return { reason: RejectionReason.SelfTestTimeout, detail: `a case took over ${callTimeoutMs} ms; ${detail}` };
  }
  return { reason: RejectionReason.SelfTestFailed, detail: `${report.passed}/${cases} golden cases passed; ${detail}` };
}
