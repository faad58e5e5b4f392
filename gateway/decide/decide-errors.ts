/**
 * Every failure of a decision mapped to its gRPC code, in one place and by type: what the client can fix is
 * INVALID_ARGUMENT, a conflict worth an immediate retry is ABORTED, a server that cannot decide right now is
 * UNAVAILABLE (the retryable code), the client's own cancel or deadline keeps its code.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { KernelError, KernelErrorCode } from "../../wasm-core/src/kernel-errors.ts";

const KERNEL_CODES: Record<KernelErrorCode, Code> = {
  // The request does not fit the kernel (sizes, capacity): retrying the same request fails the same way.
  [KernelErrorCode.InvalidInput]: Code.InvalidArgument,
  // The catalog changed under the call: the next attempt decides on the new one.
  [KernelErrorCode.InventoryMismatch]: Code.Aborted,
  [KernelErrorCode.Trap]: Code.Unavailable,
  [KernelErrorCode.Timeout]: Code.Unavailable,
  [KernelErrorCode.InvalidModule]: Code.Unavailable,
  [KernelErrorCode.WorkerLost]: Code.Unavailable,
  [KernelErrorCode.InvalidOutput]: Code.Unavailable,
  [KernelErrorCode.Closed]: Code.Unavailable,
};

/** The ConnectError a failed kernel call answers with. */
export function kernelFailure(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const code = err instanceof KernelError ? KERNEL_CODES[err.code] : Code.Unavailable;
  return new ConnectError(`kernel: ${(err as Error).message}`, code, undefined, undefined, err);
}
