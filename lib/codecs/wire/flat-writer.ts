import type { WireType } from "@bufbuild/protobuf/wire";

/** A finished writer's buffer, kept for the next one: encoders run one at a time, so one is enough. */
let spare: Uint8Array | undefined;
/** Scratch buffers larger than this are not kept (one unusual message should not pin its memory). */
const KEEP_BYTES = 64 * 1024;

/**
 * A protobuf writer over one reused buffer, for every encoder written field by field (lib/codecs). protobuf-es's
 * BinaryWriter keeps a number[] per chunk, makes a new Uint8Array for every string, bytes field and nested
 * message, and an ArrayBuffer per float; at 1,000 decisions/s the response, outcome and receipt encoders made a
 * third of everything the gateway allocated (a sampling heap profile: ~45 KB of ~136 KB a decision). This one
 * writes in place: a nested message reserves one byte for its length and moves its content only when the length
 * needs more.
 *
 * The methods are BinaryWriter's, for the calls these encoders make, and write the same bytes for the same calls
 * (flat-writer.spec.ts compares the two on random calls; the codecs' specs compare whole messages with toBinary).
 * Unlike BinaryWriter it does not check ranges: callers pass the values of valid messages.
 */
export class FlatWriter {
  #u8: Uint8Array;
  #buf: Buffer;
  #pos = 0;
  readonly #forks: number[] = [];

  constructor() {
    this.#u8 = spare ?? new Uint8Array(4096);
    spare = undefined;
    this.#buf = Buffer.from(this.#u8.buffer, this.#u8.byteOffset, this.#u8.byteLength);
  }

  tag(fieldNo: number, type: WireType): this {
    return this.uint32(((fieldNo << 3) | type) >>> 0);
  }

  uint32(value: number): this {
    this.#room(5);
    const u8 = this.#u8;
    let pos = this.#pos;
    while (value > 0x7f) {
      u8[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    u8[pos++] = value;
    this.#pos = pos;
    return this;
  }

  /** Negative values take ten bytes, as int32 is sign-extended to 64 bits on the wire. */
  int32(value: number): this {
    return value >= 0 ? this.uint32(value) : this.#varint64(value >>> 0, 0xffffffff);
  }

  int64(value: bigint): this {
    if (value >= 0n && value <= 0xffffffffn) return this.uint32(Number(value));
    return this.#varint64(Number(BigInt.asUintN(32, value)), Number(BigInt.asUintN(32, value >> 32n)));
  }

  uint64(value: bigint): this {
    return this.int64(BigInt.asUintN(64, value));
  }

  bool(value: boolean): this {
    this.#room(1);
    this.#u8[this.#pos++] = value ? 1 : 0;
    return this;
  }

  float(value: number): this {
    this.#room(4);
    this.#pos = this.#buf.writeFloatLE(value, this.#pos);
    return this;
  }

  double(value: number): this {
    this.#room(8);
    this.#pos = this.#buf.writeDoubleLE(value, this.#pos);
    return this;
  }

  /** Length-delimited UTF-8, written straight into the buffer (lone surrogates become U+FFFD, as TextEncoder's). */
  string(value: string): this {
    const length = Buffer.byteLength(value, "utf8");
    this.uint32(length);
    this.#room(length);
    this.#pos += this.#buf.write(value, this.#pos, length, "utf8");
    return this;
  }

  bytes(value: Uint8Array): this {
    this.uint32(value.byteLength);
    return this.raw(value);
  }

  raw(chunk: Uint8Array): this {
    this.#room(chunk.byteLength);
    this.#u8.set(chunk, this.#pos);
    this.#pos += chunk.byteLength;
    return this;
  }

  /** Starts a nested message (or packed field): its length is written by the matching join(). */
  fork(): this {
    this.#room(1);
    this.#forks.push(this.#pos++);
    return this;
  }

  join(): this {
    const at = this.#forks.pop();
    if (at === undefined) throw new Error("join() without fork()");
    const length = this.#pos - at - 1;
    let size = 1;
    for (let v = length >>> 7; v > 0; v >>>= 7) size++;
    if (size > 1) {
      this.#room(size - 1);
      this.#u8.copyWithin(at + size, at + 1, this.#pos);
      this.#pos += size - 1;
    }
    const end = this.#pos;
    this.#pos = at;
    this.uint32(length);
    this.#pos = end;
    return this;
  }

  /** The bytes written, in a buffer of their own; the writer must not be used after. */
  finish(): Uint8Array {
    if (this.#forks.length > 0) throw new Error("finish() inside a fork()");
    const out = this.#u8.slice(0, this.#pos);
    if (this.#u8.byteLength <= KEEP_BYTES) spare = this.#u8;
    return out;
  }

  #varint64(lo: number, hi: number): this {
    this.#room(10);
    const u8 = this.#u8;
    let pos = this.#pos;
    while (hi > 0 || lo > 0x7f) {
      u8[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    u8[pos++] = lo;
    this.#pos = pos;
    return this;
  }

  #room(bytes: number): void {
    if (this.#pos + bytes <= this.#u8.byteLength) return;
    const grown = new Uint8Array(Math.max(2 * this.#u8.byteLength, this.#pos + bytes));
    grown.set(this.#u8.subarray(0, this.#pos));
    this.#u8 = grown;
    this.#buf = Buffer.from(grown.buffer, grown.byteOffset, grown.byteLength);
  }
}
