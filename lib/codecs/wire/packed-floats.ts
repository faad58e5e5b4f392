import { type BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { FlatWriter } from "./flat-writer.ts";

/** Packed floats are the platform's Float32Array bytes only on a little-endian host (the wire is little-endian). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * A packed repeated float field as toBinary writes it (nothing when empty), in one copy: protobuf-es writes packed
 * floats one DataView call at a time, which dominated the hand-written encoders' messages (votes, signals).
 */
export function writePackedFloats(w: FlatWriter, field: number, values: readonly number[]): void {
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

/**
 * Appends a repeated float field's values at the reader's position to `out`, as fromBinary reads them: packed (the
 * proto3 default) in one block, or, as the spec allows a reader to meet, one float per tag. protobuf-es reads packed
 * floats one reader call at a time (votes, and the Relevance model's 2 x 4096 floats in every gateway's mirror).
 */
export function readFloats(r: BinaryReader, wire: WireType, out: number[]): void {
  if (wire !== WireType.LengthDelimited) {
    out.push(r.float());
    return;
  }
  const bytes = r.bytes();
  if (bytes.length % 4 !== 0) throw new Error(`packed float field of ${bytes.length} bytes`);
  if (LITTLE_ENDIAN) {
    // A Float32Array needs an aligned offset: copy (one memcpy) when the field is not at one.
    // (Uint8Array's slice: a Node Buffer's slice() shares memory instead of copying.)
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : Uint8Array.prototype.slice.call(bytes);
    for (const f of new Float32Array(aligned.buffer, aligned.byteOffset, aligned.length / 4)) out.push(f);
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < bytes.length; i += 4) out.push(view.getFloat32(i, true));
}
