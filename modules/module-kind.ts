/**
 * What the verification pipeline needs to know about one kind of module (the kernel; later agents' scoring
 * modules): the ABI it must speak, what it may import, and the kind-specific checks. A failed check returns
 * its reason and a sentence; it never throws for a bad module.
 */
import type { RejectionReason } from "./module-rejected-error.ts";

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
