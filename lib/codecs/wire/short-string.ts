import type { BinaryReader } from "@bufbuild/protobuf/wire";

const utf8 = new TextDecoder();

/**
 * r.string() for the reader over `buf`, short ASCII read in place: per id, r.string()'s subarray and TextDecoder call
 * were ~40% of decoding an AuctionOutcome (~80 ids each). Anything else goes to TextDecoder as r.string() does
 * (invalid UTF-8 becomes U+FFFD).
 */
export function readString(r: BinaryReader, buf: Uint8Array): string {
  const len = r.uint32();
  const start = r.pos;
  const end = start + len;
  if (end > r.len) throw new RangeError("premature EOF");
  r.pos = end;
  if (len <= 64) {
    let s = "";
    let i = start;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (c >= 0x80) break;
      s += String.fromCharCode(c);
    }
    if (i === end) return s;
  }
  return utf8.decode(buf.subarray(start, end));
}
