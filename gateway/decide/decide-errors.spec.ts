import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  KernelClosedError,
  KernelInputError,
  KernelInventoryMismatchError,
  KernelTimeoutError,
  KernelTrapError,
} from "../../wasm-core/src/kernel-errors.ts";
import { kernelFailure } from "./decide-errors.ts";

describe("decide errors - one mapping from failure type to code", () => {
  it("an input the kernel cannot take is INVALID_ARGUMENT, not UNAVAILABLE; a catalog race is ABORTED", () => {
    expect(kernelFailure(new KernelInputError("2000 candidates > capacity 1024")).code).toBe(Code.InvalidArgument);
    expect(kernelFailure(new KernelInventoryMismatchError("inventory 7 is not resident")).code).toBe(Code.Aborted);
  });

  it("a kernel that cannot decide now is UNAVAILABLE (retryable); the cause and message are kept", () => {
    for (const err of [new KernelTrapError("unreachable"), new KernelTimeoutError("250 ms"), new KernelClosedError()]) {
      const mapped = kernelFailure(err);
      expect(mapped.code).toBe(Code.Unavailable);
      expect(mapped.cause).toBe(err);
      expect(mapped.rawMessage).toBe(`kernel: ${err.message}`);
    }
    expect(kernelFailure(new Error("something else")).code).toBe(Code.Unavailable);
  });

  it("a ConnectError (the client's cancel or deadline) keeps its code", () => {
    const cancel = new ConnectError("the client closed the stream", Code.Canceled);
    expect(kernelFailure(cancel)).toBe(cancel);
  });
});
