import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { encodeMessage } from "../../lib/codecs/registry.ts";

/** A response in binary: the hot path's hand-written encoder (same bytes as toBinary) where there is one. */
export function encodeResponse<S extends DescMessage>(schema: S, message: MessageShape<S>): Uint8Array {
  return encodeMessage(schema, message);
}
