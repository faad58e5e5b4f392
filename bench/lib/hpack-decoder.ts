import { decodeHuffman } from "./hpack-huffman.ts";

/** RFC 7541 Appendix A, index 1-61 (name, value). */
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/** An entry's size in the dynamic table: its octets plus 32 (RFC 7541 §4.1). Names and values are latin1. */
const entrySize = (name: string, value: string) => name.length + value.length + 32;

/**
 * An HPACK decoder (RFC 7541) for one connection's header blocks, in the order they arrive: the dynamic table,
 * its size updates (up to the size this side announced), Huffman strings. Hand-written, as the rest of the load
 * client's HTTP/2 (npm's hpack.js was not taken: nothing shows it is still maintained); tested against
 * nghttp2's encoder.
 */
export class HpackDecoder {
  /** Newest first: index 62 is entries[0]. */
  private readonly entries: [string, string][] = [];
  private size = 0;
  /** The table's size: the protocol's 4096 until the encoder's first size update. */
  private limit = 4096;
  private pos = 0;

  /** `maxSize`: SETTINGS_HEADER_TABLE_SIZE as this side announced it, the most a size update may ask for. */
  constructor(private readonly maxSize = 4096) {}

  /** The fields of one complete header block, flat: name, value, name, value... */
  decode(block: Uint8Array, start = 0, end = block.length): string[] {
    const fields: string[] = [];
    this.pos = start;
    while (this.pos < end) {
      const first = block[this.pos]!;
      if (first & 0x80) {
        const [name, value] = this.entry(this.integer(block, end, 7));
        fields.push(name, value);
      } else if (first & 0x40) {
        // Literal with incremental indexing.
        const index = this.integer(block, end, 6);
        const name = index === 0 ? this.string(block, end) : this.entry(index)[0];
        const value = this.string(block, end);
        this.insert(name, value);
        fields.push(name, value);
      } else if (first & 0x20) {
        if (fields.length > 0) throw new Error("hpack: table size update after a field");
        const size = this.integer(block, end, 5);
        if (size > this.maxSize) throw new Error(`hpack: table size ${size} above ${this.maxSize}`);
        this.limit = size;
        this.evict(0);
      } else {
        // Literal without indexing (0x00) or never indexed (0x10): same wire shape, table untouched.
        const index = this.integer(block, end, 4);
        const name = index === 0 ? this.string(block, end) : this.entry(index)[0];
        fields.push(name, this.string(block, end));
      }
    }
    return fields;
  }

  private entry(index: number): readonly [string, string] {
    if (index >= 1 && index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
    const entry = this.entries[index - STATIC_TABLE.length - 1];
    if (!entry) throw new Error(`hpack: index ${index} out of range`);
    return entry;
  }

  private insert(name: string, value: string): void {
    const size = entrySize(name, value);
    this.evict(size);
    // An entry larger than the table empties it and is not added (RFC 7541 §4.4).
    if (size <= this.limit) {
      this.entries.unshift([name, value]);
      this.size += size;
    }
  }

  /** Drops the oldest entries until `room` more octets fit. */
  private evict(room: number): void {
    while (this.entries.length > 0 && this.size + room > this.limit) {
      const [name, value] = this.entries.pop()!;
      this.size -= entrySize(name, value);
    }
  }

  /** An integer with an N-bit prefix (RFC 7541 §5.1). */
  private integer(block: Uint8Array, end: number, prefixBits: number): number {
    const mask = (1 << prefixBits) - 1;
    let value = block[this.pos++]! & mask;
    if (value < mask) return value;
    let shift = 1;
    for (;;) {
      if (this.pos >= end) throw new Error("hpack: truncated integer");
      const b = block[this.pos++]!;
      value += (b & 0x7f) * shift;
      if (b < 0x80) return value;
      shift *= 128;
      if (shift > 2 ** 28) throw new Error("hpack: integer too large");
    }
  }

  /** A string literal (RFC 7541 §5.2): Huffman-coded or raw octets, read as latin1. */
  private string(block: Uint8Array, end: number): string {
    if (this.pos >= end) throw new Error("hpack: truncated string");
    const huffman = (block[this.pos]! & 0x80) !== 0;
    const length = this.integer(block, end, 7);
    const from = this.pos;
    const to = from + length;
    if (to > end) throw new Error("hpack: truncated string");
    this.pos = to;
    if (huffman) return decodeHuffman(block, from, to);
    let out = "";
    for (let i = from; i < to; i++) out += String.fromCharCode(block[i]!);
    return out;
  }
}
