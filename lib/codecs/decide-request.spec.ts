import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConsentSchema, DeviceSchema, GeoSchema, UserSchema } from "../../gen/chorus/v1/common_pb.ts";
import { DecideRequestSchema, ListeningContextSchema, PlacementSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { demoRequest } from "../demo/demo-request.ts";
import { decodeDecideRequest } from "./decide-request.ts";

const u32 = fc.nat({ max: 2 ** 32 - 1 });
const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const i64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const text = fc.oneof(fc.constant(""), fc.string(), fc.constantFrom("DE", "pop", "été", "😀-user"));
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const request = fc
  .record({
    requestId: text,
    placement: maybe(
      fc.record({
        placementId: text,
        breakKind: i32,
        maxDurationMs: u32,
        maxAds: u32,
        allowedFormats: fc.array(i32, { maxLength: 5 }),
        floorPriceMicros: i64,
        forceNow: fc.boolean(),
      }),
    ),
    user: maybe(
      fc.record({
        userId: text,
        consent: maybe(fc.record({ personalizedAds: fc.boolean(), measurement: fc.boolean() })),
        ageBracket: i32,
        geo: maybe(fc.record({ country: text, region: text })),
      }),
    ),
    device: maybe(
      fc.record({
        type: i32,
        os: text,
        screenOn: fc.boolean(),
        foreground: fc.boolean(),
        touch: fc.boolean(),
        appId: text,
        appVersion: text,
      }),
    ),
    context: maybe(
      fc.record({
        sessionId: text,
        contentKind: i32,
        contentId: text,
        genre: text,
        moodTags: fc.array(text, { maxLength: 4 }),
        positionMs: u32,
        contentDurationMs: u32,
        recentSkips: u32,
        sessionLengthMs: u32,
        chapterMarkersMs: fc.array(u32, { maxLength: 6 }),
        silenceMarkersMs: fc.array(u32, { maxLength: 6 }),
      }),
    ),
    deadlineMs: u32,
    explain: fc.boolean(),
  })
  .map((r) => create(DecideRequestSchema, r));

/** The same as fromBinary: equal as messages, and the same bytes when written again. */
function expectSame(bytes: Uint8Array): void {
  const ours = decodeDecideRequest(bytes);
  const theirs = fromBinary(DecideRequestSchema, bytes);
  expect(equals(DecideRequestSchema, ours, theirs)).toBe(true);
  expect(toBinary(DecideRequestSchema, ours)).toEqual(toBinary(DecideRequestSchema, theirs));
  expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
}

describe("decide request decoder", () => {
  it("decide request decoder - covers every field (a new field must be decoded too)", () => {
    const numbers = (s: { fields: { number: number }[] }) => s.fields.map((f) => f.number);
    expect(numbers(DecideRequestSchema)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(numbers(PlacementSchema)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(numbers(UserSchema)).toEqual([1, 2, 3, 4]);
    expect(numbers(ConsentSchema)).toEqual([1, 2]);
    expect(numbers(GeoSchema)).toEqual([1, 2]);
    expect(numbers(DeviceSchema)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(numbers(ListeningContextSchema)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it("decide request decoder - reads what fromBinary reads (toBinary's bytes of any request)", () => {
    expectSame(toBinary(DecideRequestSchema, demoRequest()));
    expectSame(new Uint8Array(0));
    fc.assert(
      fc.property(request, (r) => expectSame(toBinary(DecideRequestSchema, r))),
      { numRuns: 500 },
    );
  });

  it("decide request decoder - merges a message met twice, takes the last scalar, reads packed and unpacked", () => {
    fc.assert(
      fc.property(request, request, (a, b) => {
        // Two encodings back to back are one message merged, as the protobuf spec says.
        const ab = [...toBinary(DecideRequestSchema, a), ...toBinary(DecideRequestSchema, b)];
        expectSame(Uint8Array.from(ab));
      }),
      { numRuns: 200 },
    );
    // allowed_formats (5) and chapter markers (10) written unpacked, one tag per value.
    const w = new BinaryWriter();
    w.tag(2, WireType.LengthDelimited).fork().tag(5, WireType.Varint).int32(2).tag(5, WireType.Varint).int32(3).join();
    w.tag(5, WireType.LengthDelimited).fork().tag(10, WireType.Varint).uint32(7).tag(10, WireType.Varint).uint32(9);
    w.join();
    const bytes = w.finish();
    expectSame(bytes);
    expect(decodeDecideRequest(bytes).placement?.allowedFormats).toEqual([2, 3]);
  });

  it("decide request decoder - keeps unknown fields and fails on malformed bytes exactly as fromBinary", () => {
    const withUnknown = new BinaryWriter().tag(1, WireType.LengthDelimited).string("r").tag(99, WireType.Varint);
    const bytes = withUnknown.uint32(5).finish();
    const decoded = decodeDecideRequest(bytes);
    expect(toBinary(DecideRequestSchema, decoded)).toEqual(bytes);
    const good = toBinary(DecideRequestSchema, demoRequest());
    for (const cut of [1, 5, 17, good.length - 1]) {
      const truncated = good.subarray(0, cut);
      let theirs: string | undefined;
      try {
        fromBinary(DecideRequestSchema, truncated);
      } catch (e) {
        theirs = (e as Error).message;
      }
      if (theirs === undefined) expectSame(truncated);
      else expect(() => decodeDecideRequest(truncated)).toThrow(theirs);
    }
  });

  it("decide request decoder - reads through a Node Buffer's view too", () => {
    const bytes = toBinary(DecideRequestSchema, demoRequest());
    const pooled = Buffer.concat([Buffer.from("xxxx"), Buffer.from(bytes)]).subarray(4);
    expect(equals(DecideRequestSchema, decodeDecideRequest(pooled), demoRequest())).toBe(true);
  });
});
