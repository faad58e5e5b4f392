import { type BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/** Packed floats are the platform's Float32Array bytes only on a little-endian host (the wire is little-endian). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * A packed repeated float field as toBinary writes it (nothing when empty), in one copy: protobuf-es writes packed
 * floats one DataView call at a time, which dominated the hand-written encoders' messages (votes, signals).
 */
export function writePackedFloats(w: BinaryWriter, field: number, values: readonly number[]): void {
  if (values.length === 0) return;
  const floats = Float32Array.from(values);
  if (LITTLE_ENDIAN) {
    w.tag(field, WireType.LengthDelimited).bytes(new Uint8Array(floats.buffer));
    return;
  }
  w.tag(field, WireType.LengthDelimited).fork();
  for (const f of floats) w.float(f);
  w.join();
}
