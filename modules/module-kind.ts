/**
 * What the verification pipeline needs to know about one kind of module (the kernel; later agents' scoring
 * modules): the ABI it must speak, what it may import, and the kind-specific checks. A failed check returns
 * its reason and a sentence; it never throws for a bad module.
 */
import { RejectionReason } from "./module-rejected-error.ts";

export interface CheckFailure {
  reason: RejectionReason;
  detail: string;
}

export interface ModuleKind {
  /** The ABI version this host speaks for the kind; the manifest and the module must say the same. */
  readonly abiVersion: number;
  /** `<module>.<name>` of every import a module of this kind may have (empty: a pure module). */
  readonly allowedImports: ReadonlySet<string>;
  /** Export names, kinds and signatures (everything that needs no instance). */
  checkExports(bytes: Uint8Array): Promise<CheckFailure | undefined>;
  /**
   * Instantiates the module off the main thread and runs it on fixed golden inputs within `budgetMs`;
   * a module that loops is stopped by terminating the thread that runs it.
   */
  selfTest(bytes: Uint8Array, version: string, budgetMs: number): Promise<CheckFailure | undefined>;
}

/**
 * A self-test's result, or SelfTestTimeout once `backstopMs` of wall clock have passed: the per-call limits bound
 * the module's own time, this also covers worker start-ups. A self-test past it keeps running in the background
 * until its worker closes; the verifier stops waiting.
 */
export async function withSelfTestBackstop(
  selfTest: Promise<CheckFailure | undefined>,
  backstopMs: number,
): Promise<CheckFailure | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const overBudget = new Promise<CheckFailure>((resolve) => {
    timer = setTimeout(
      () => resolve({ reason: RejectionReason.SelfTestTimeout, detail: `self-test took longer than ${backstopMs} ms` }),
      backstopMs,
    );
  });
  try {
    return await Promise.race([selfTest, overBudget]);
  } finally {
    clearTimeout(timer);
  }
}
