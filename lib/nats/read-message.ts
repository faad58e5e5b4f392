import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import { outOfRangeValues } from "../validation/value-bounds.ts";
import { type BadMessageReason, describeError } from "./bad-messages.ts";

export type ReadResult<T> = { ok: true; message: T } | { ok: false; reason: BadMessageReason; detail: string };

/**
 * Decodes a message from the bus and checks its values (lib/validation/value-bounds.ts): what every Chorus consumer
 * does before folding a message into its state (`check` replaces the value check). Never throws.
 */
export function readMessage<M extends DescMessage>(
  schema: M,
  bytes: Uint8Array,
  decode: (bytes: Uint8Array) => unknown = (b) => fromBinary(schema, b),
  check: (schema: M, message: MessageShape<M>) => string[] = outOfRangeValues,
): ReadResult<MessageShape<M>> {
  let message: MessageShape<M>;
  try {
    message = decode(bytes) as MessageShape<M>;
  } catch (err) {
    return { ok: false, reason: "undecodable", detail: describeError(err) };
  }
  const problems = check(schema, message);
  if (problems.length > 0) return { ok: false, reason: "out_of_range", detail: problems.slice(0, 5).join("; ") };
  return { ok: true, message };
}
