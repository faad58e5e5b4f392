import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FlatWriter } from "./flat-writer.ts";

/** One call on a writer; fork and join are balanced by `nested`. */
type Op =
  | { op: "tag"; field: number; type: WireType }
  | { op: "uint32"; v: number }
  | { op: "int32"; v: number }
  | { op: "int64"; v: bigint }
  | { op: "uint64"; v: bigint }
  | { op: "bool"; v: boolean }
  | { op: "float"; v: number }
  | { op: "double"; v: number }
  | { op: "string"; v: string }
  | { op: "bytes"; v: Uint8Array }
  | { op: "nested"; ops: Op[] };

const leaf: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("tag" as const),
    field: fc.integer({ min: 1, max: 2 ** 29 - 1 }),
    type: fc.constantFrom(WireType.Varint, WireType.Bit64, WireType.LengthDelimited, WireType.Bit32),
  }),
  fc.record({ op: fc.constant("uint32" as const), v: fc.nat({ max: 2 ** 32 - 1 }) }),
  fc.record({ op: fc.constant("int32" as const), v: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
  fc.record({ op: fc.constant("int64" as const), v: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) }),
  fc.record({ op: fc.constant("uint64" as const), v: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
  fc.record({ op: fc.constant("bool" as const), v: fc.boolean() }),
  fc.record({ op: fc.constant("float" as const), v: fc.float() }),
  fc.record({ op: fc.constant("double" as const), v: fc.double() }),
  fc.record({
    op: fc.constant("string" as const),
    // Long strings (lengths past one varint byte) and every kind of code point, lone surrogates included.
    v: fc.oneof(
      fc.string(),
      fc.string({ unit: "grapheme", minLength: 40, maxLength: 400 }),
      fc.string({ unit: "binary" }),
    ),
  }),
  fc.record({ op: fc.constant("bytes" as const), v: fc.uint8Array({ maxLength: 300 }) }),
);

const { ops } = fc.letrec<{ ops: Op[]; op: Op }>((tie) => ({
  op: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.record({ op: fc.constant("nested" as const), ops: tie("ops") as fc.Arbitrary<Op[]> }),
  ),
  ops: fc.array(tie("op") as fc.Arbitrary<Op>, { maxLength: 30 }),
}));

function play(w: BinaryWriter | FlatWriter, list: Op[]): void {
  for (const o of list) {
    if (o.op === "nested") {
      w.fork();
      play(w, o.ops);
      w.join();
    } else if (o.op === "tag") w.tag(o.field, o.type);
    else if (o.op === "int64" || o.op === "uint64") w[o.op](o.v);
    else if (o.op === "bool") w.bool(o.v);
    else if (o.op === "string") w.string(o.v);
    else if (o.op === "bytes") w.bytes(o.v);
    else w[o.op](o.v);
  }
}

describe("FlatWriter - the bytes BinaryWriter writes, without its allocations", () => {
  it("writes what BinaryWriter writes for any sequence of calls, nested ones included", () => {
    fc.assert(
      fc.property(ops, (list) => {
        const expected = new BinaryWriter();
        play(expected, list);
        const actual = new FlatWriter();
        play(actual, list);
        expect(actual.finish()).toEqual(expected.finish());
      }),
      { numRuns: 500 },
    );
  });

  it("grows past its first buffer, and a nested message longer than 127 bytes moves its content for the length", () => {
    const big = new Uint8Array(10_000).map((_, i) => i % 251);
    const flat = new FlatWriter().tag(1, WireType.LengthDelimited).fork().bytes(big).string("é".repeat(5_000)).join();
    const reference = new BinaryWriter()
      .tag(1, WireType.LengthDelimited)
      .fork()
      .bytes(big)
      .string("é".repeat(5_000))
      .join();
    expect(flat.finish()).toEqual(reference.finish());
  });

  it("gives each message its own bytes: a later message does not change an earlier one's", () => {
    const first = new FlatWriter().string("first").finish();
    const copy = Uint8Array.from(first);
    new FlatWriter().string("second, longer").finish();
    expect(first).toEqual(copy);
  });

  it("refuses a join without a fork and a finish inside a fork", () => {
    expect(() => new FlatWriter().join()).toThrow(/without fork/);
    expect(() => new FlatWriter().fork().finish()).toThrow(/inside a fork/);
  });
});
