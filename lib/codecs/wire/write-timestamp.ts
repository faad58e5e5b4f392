import { WireType } from "@bufbuild/protobuf/wire";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { FlatWriter } from "./flat-writer.ts";

/** A google.protobuf.Timestamp field as toBinary writes it (zero seconds and nanos left out). */
export function writeTimestamp(w: FlatWriter, field: number, t: Timestamp): void {
  w.tag(field, WireType.LengthDelimited).fork();
  if (t.seconds !== 0n) w.tag(1, WireType.Varint).int64(t.seconds);
  if (t.nanos !== 0) w.tag(2, WireType.Varint).int32(t.nanos);
  w.join();
}
