import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import { decodeDecideRequest } from "./decide-request-decoder.ts";

/** Hand-written decoders by message type name: the hot messages, each property-checked against fromBinary. */
const handDecoders: Record<string, (bytes: Uint8Array) => unknown> = {
  "chorus.v1.DecideRequest": decodeDecideRequest,
};

/** fromBinary, through a hand-written decoder where one exists for the message type (same result). */
export function decodeMessage<S extends DescMessage>(schema: S, bytes: Uint8Array): MessageShape<S> {
  const hand = handDecoders[schema.typeName];
  return hand ? (hand(bytes) as MessageShape<S>) : fromBinary(schema, bytes);
}
