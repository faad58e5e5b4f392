import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { DecideResponseSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { encodeDecideResponse } from "../../lib/codecs/decide-response.ts";

// biome-ignore lint/suspicious/noExplicitAny: each encoder takes its own schema's message.
const handWritten = new Map<DescMessage, (message: any) => Uint8Array>([[DecideResponseSchema, encodeDecideResponse]]);

/** A response in binary: the hot path's hand-written encoder (same bytes as toBinary) where there is one. */
export function encodeResponse<S extends DescMessage>(schema: S, message: MessageShape<S>): Uint8Array {
  const encode = handWritten.get(schema);
  return encode ? encode(message) : toBinary(schema, message);
}
