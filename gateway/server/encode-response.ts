import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { encodeMessage } from "../../lib/codecs/registry.ts";
import { wireBytesOf } from "../../lib/codecs/wire/wire-bytes.ts";

/**
 * A response in binary: the bytes it was already encoded to (the idempotency memory encodes each decision once,
 * see wire-bytes.ts), else the hot path's hand-written encoder (same bytes as toBinary) where there is one.
 */
export function encodeResponse<S extends DescMessage>(schema: S, message: MessageShape<S>): Uint8Array {
  return wireBytesOf(message) ?? encodeMessage(schema, message);
}
