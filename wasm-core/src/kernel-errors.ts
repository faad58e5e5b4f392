/** Every failure of the kernel or its pool is a KernelError with a code; each decision fails on its own. */
export const KernelErrorCode = {
  /** The module trapped (unreachable, out-of-bounds access, ...) while deciding. */
  Trap: "trap",
  /** The call ran past its time budget; the worker running it was terminated. */
  Timeout: "timeout",
  /** Bytes that do not compile, or a module whose exports or ABI version differ from ABI_VERSION. */
  InvalidModule: "invalid_module",
  /** A request or inventory that does not fit its declared sizes or the configured capacity. */
  InvalidInput: "invalid_input",
  /** The module's answer breaks the output contract (kernel-output-checks.ts): nothing of it is served. */
  InvalidOutput: "invalid_output",
  /** The request names an inventory version that is not the resident one. */
  InventoryMismatch: "inventory_mismatch",
  /** The worker running the decision exited for another reason (out of memory, crash). */
  WorkerLost: "worker_lost",
  /** The pool was closed before the decision ran. */
  Closed: "closed",
} as const;
export type KernelErrorCode = (typeof KernelErrorCode)[keyof typeof KernelErrorCode];

export class KernelError extends Error {
  override name = "KernelError";
  readonly code: KernelErrorCode;

  constructor(code: KernelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export class KernelTrapError extends KernelError {
  override name = "KernelTrapError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(KernelErrorCode.Trap, message, options);
  }
}

export class KernelTimeoutError extends KernelError {
  override name = "KernelTimeoutError";
  constructor(message: string) {
    super(KernelErrorCode.Timeout, message);
  }
}

export class KernelModuleError extends KernelError {
  override name = "KernelModuleError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(KernelErrorCode.InvalidModule, message, options);
  }
}

export class KernelInputError extends KernelError {
  override name = "KernelInputError";
  constructor(message: string) {
    super(KernelErrorCode.InvalidInput, message);
  }
}

export class KernelInventoryMismatchError extends KernelError {
  override name = "KernelInventoryMismatchError";
  constructor(message: string) {
    super(KernelErrorCode.InventoryMismatch, message);
  }
}

export class KernelWorkerLostError extends KernelError {
  override name = "KernelWorkerLostError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(KernelErrorCode.WorkerLost, message, options);
  }
}

export class KernelClosedError extends KernelError {
  override name = "KernelClosedError";
  constructor() {
    super(KernelErrorCode.Closed, "kernel pool is closed");
  }
}
