import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { RelevanceSignal } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { writePackedFloats } from "./wire/packed-floats.ts";

const VARINT = WireType.Varint;

/**
 * RelevanceSignal in its wire encoding: the model's two 4096-float lists are written as one block each (toBinary
 * writes packed floats one DataView call at a time: nearly all of host 1's publishSignals). toBinary's bytes,
 * checked by codecs.spec.ts (a new field must be added here too).
 */
export function encodeRelevanceSignal(s: RelevanceSignal): Uint8Array {
  const w = new BinaryWriter();
  if (s.size !== 0) w.tag(1, VARINT).uint32(s.size);
  writePackedFloats(w, 2, s.z);
  writePackedFloats(w, 3, s.n);
  if (s.examples !== 0n) w.tag(4, VARINT).uint64(s.examples);
  if (s.positives !== 0n) w.tag(5, VARINT).uint64(s.positives);
  return w.finish();
}
