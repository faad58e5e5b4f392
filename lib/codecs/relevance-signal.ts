import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { RelevanceSignal } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { FlatWriter } from "./wire/flat-writer.ts";
import { readFloats, writePackedFloats } from "./wire/packed-floats.ts";

const VARINT = WireType.Varint;

/**
 * RelevanceSignal in its wire encoding: the model's two 4096-float lists are written as one block each (toBinary
 * writes packed floats one DataView call at a time: nearly all of host 1's publishSignals). toBinary's bytes,
 * checked by codecs.spec.ts (a new field must be added here too).
 */
export function encodeRelevanceSignal(s: RelevanceSignal): Uint8Array {
  const w = new FlatWriter();
  if (s.size !== 0) w.tag(1, VARINT).uint32(s.size);
  writePackedFloats(w, 2, s.z);
  writePackedFloats(w, 3, s.n);
  if (s.examples !== 0n) w.tag(4, VARINT).uint64(s.examples);
  if (s.positives !== 0n) w.tag(5, VARINT).uint64(s.positives);
  return w.finish();
}

/**
 * RelevanceSignal from its wire encoding (the inverse of the above): every gateway decodes the model each time it
 * is published (every 250 ms while it learns, and at each refresh), and fromBinary read its 8,192 floats one reader
 * call at a time (~40 ms on a cold gateway). The message fromBinary reads (unknown fields skipped), checked by
 * codecs.spec.ts; anything malformed throws.
 */
export function decodeRelevanceSignal(bytes: Uint8Array): RelevanceSignal {
  const s: RelevanceSignal = {
    $typeName: "chorus.v1.RelevanceSignal",
    size: 0,
    z: [],
    n: [],
    examples: 0n,
    positives: 0n,
  };
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1:
        s.size = r.uint32();
        break;
      case 2:
        readFloats(r, wire, s.z);
        break;
      case 3:
        readFloats(r, wire, s.n);
        break;
      case 4:
        s.examples = BigInt(r.uint64());
        break;
      case 5:
        s.positives = BigInt(r.uint64());
        break;
      default:
        r.skip(wire, field);
    }
  }
  return s;
}
