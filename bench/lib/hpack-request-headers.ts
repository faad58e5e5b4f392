import { STATIC_TABLE } from "./hpack-decoder.ts";

/** The HEADERS block of the first request on a connection, and of every later one. */
export interface RequestHeaderBlocks {
  first: Buffer;
  rest: Buffer;
}

/**
 * Every request on a connection carries the same headers, so their HPACK blocks are encoded once: the first request
 * adds each header the static table lacks to the server's dynamic table, every later one names it by index in one
 * octet, as nghttp2's encoder does (the server decodes what a node:http2 client would send). When the server's
 * table (its SETTINGS_HEADER_TABLE_SIZE) cannot hold them, every request carries them as literals, unindexed.
 * Strings are sent raw, not Huffman-coded: the server accepts both and raw costs nothing to encode.
 */
export function requestHeaderBlocks(
  headers: readonly (readonly [string, string])[],
  serverTableSize: number,
): RequestHeaderBlocks {
  const added = headers.filter(([name, value]) => staticIndex(name, value) === 0);
  const indexing = added.reduce((a, [name, value]) => a + name.length + value.length + 32, 0) <= serverTableSize;
  const first: number[] = [];
  const rest: number[] = [];
  let position = 0;
  for (const [name, value] of headers) {
    const exact = staticIndex(name, value);
    if (exact > 0) {
      integer(first, exact, 7, 0x80);
      integer(rest, exact, 7, 0x80);
      continue;
    }
    const nameIndex = staticNameIndex(name);
    if (indexing) {
      literal(first, name, value, nameIndex, 6, 0x40);
      // Entries added in order: the last one added is index 62, the first one 61 + added.length.
      integer(rest, STATIC_TABLE.length + added.length - position, 7, 0x80);
    } else {
      literal(first, name, value, nameIndex, 4, 0x00);
      literal(rest, name, value, nameIndex, 4, 0x00);
    }
    position++;
  }
  return { first: Buffer.from(first), rest: Buffer.from(rest) };
}

/** A dynamic table size update (RFC 7541 §6.3) before `block`: how an encoder obeys a smaller table size. */
export function withTableSizeUpdate(block: Buffer, size: number): Buffer {
  const update: number[] = [];
  integer(update, size, 5, 0x20);
  return Buffer.concat([Buffer.from(update), block]);
}

const staticIndex = (name: string, value: string) => STATIC_TABLE.findIndex(([n, v]) => n === name && v === value) + 1;
const staticNameIndex = (name: string) => STATIC_TABLE.findIndex(([n]) => n === name) + 1;

function literal(out: number[], name: string, value: string, nameIndex: number, prefixBits: number, flags: number) {
  integer(out, nameIndex, prefixBits, flags);
  if (nameIndex === 0) rawString(out, name);
  rawString(out, value);
}

function rawString(out: number[], text: string): void {
  const bytes = Buffer.from(text, "latin1");
  integer(out, bytes.length, 7, 0x00);
  out.push(...bytes);
}

/** An integer with an N-bit prefix (RFC 7541 §5.1), the prefix's octet carrying `flags`. */
function integer(out: number[], value: number, prefixBits: number, flags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}
