import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AuctionEntrySchema, AuctionOutcomeBatchSchema, AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { demoRequest } from "../demo/demo-request.ts";
import {
  decodeAuctionOutcome,
  decodeAuctionOutcomeBatch,
  decodeLearnedOutcome,
  decodeLearnedOutcomes,
  encodeAuctionOutcome,
  joinEncodedOutcomes,
} from "./auction-outcome.ts";

const i64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
// equals() compares NaN unequal to itself: NaN is checked on its own below. Infinities and -0 are in.
const f32 = fc.float({ noNaN: true });
const ids = fc.oneof(fc.constant(""), fc.string(), fc.constantFrom("cr-1", "cmp-été", "cr-😀"));
const entry = fc
  .record({
    creativeId: ids,
    campaignId: ids,
    bidMicros: fc.oneof(fc.constant(0), fc.double({ noNaN: true })),
    predictedResponse: fc.oneof(fc.constant(0), f32),
    won: fc.boolean(),
    priceMicros: fc.oneof(fc.constant(0n), i64),
    position: fc.nat({ max: 2 ** 32 - 1 }),
    contributions: fc.oneof(fc.constant<number[]>([]), fc.array(f32, { maxLength: 8 })),
    priceToBeatMicros: fc.oneof(fc.constant(0n), i64),
  })
  .map((e) => create(AuctionEntrySchema, e));
const outcome = fc
  .record({
    decisionId: fc.oneof(fc.constant(""), fc.uuid()),
    request: fc.option(
      fc.record({ userId: fc.string(), genre: fc.string() }).map(({ userId, genre }) => {
        const r = demoRequest();
        if (r.user) r.user.userId = userId;
        if (r.context) r.context.genre = genre;
        return r;
      }),
      { nil: undefined },
    ),
    inventoryVersion: fc.oneof(fc.constant(0n), u64),
    decidedAt: fc.option(
      fc.integer({ min: -1e12, max: 1e13 }).map((ms) => timestampFromMs(ms)),
      { nil: undefined },
    ),
    reservePriceMicros: fc.oneof(fc.constant(0n), i64),
    entries: fc.array(entry, { maxLength: 60 }),
    agents: fc.array(fc.constantFrom("intent", "relevance", "bidding", "", "é"), { maxLength: 7 }),
    degradedAgents: fc.array(fc.constantFrom("timing", "budget", ""), { maxLength: 3 }),
    coordination: fc.constantFrom("", "cached", "parallel", "sequential"),
  })
  .map((o) => create(AuctionOutcomeSchema, o));

describe("auction outcome decoder", () => {
  it("covers every field of AuctionOutcome and AuctionEntry (a new field must be decoded too)", () => {
    expect(AuctionOutcomeSchema.fields.map((f) => f.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(AuctionEntrySchema.fields.map((f) => f.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("reads what fromBinary reads, from toBinary's bytes and from the gateway's encoder", () => {
    fc.assert(
      fc.property(outcome, (o) => {
        for (const bytes of [toBinary(AuctionOutcomeSchema, o), encodeAuctionOutcome(o)]) {
          // At an odd offset inside a larger Node Buffer, as a NATS message hands it over.
          const shifted = Buffer.alloc(bytes.length + 3);
          shifted.set(bytes, 3);
          const decoded = decodeAuctionOutcome(shifted.subarray(3));
          const expected = fromBinary(AuctionOutcomeSchema, bytes);
          expect(equals(AuctionOutcomeSchema, decoded, expected)).toBe(true);
          // The same plain shape as fromBinary's (handlers may spread or compare them).
          expect(Object.keys(decoded).sort()).toEqual(Object.keys(expected).sort());
          for (let i = 0; i < decoded.entries.length; i++)
            expect(Object.keys(decoded.entries[i]!).sort()).toEqual(Object.keys(expected.entries[i]!).sort());
        }
      }),
      { numRuns: 400 },
    );
  });

  it("reads unpacked floats, merges a repeated request, skips unknown fields and refuses truncated input as fromBinary does", () => {
    const hex = (s: string) => Buffer.from(s, "hex");
    const e = toBinary(AuctionEntrySchema, create(AuctionEntrySchema, { creativeId: "c", won: true }));
    const entryBytes = Buffer.concat([
      e,
      hex("450000003f"), // contributions (field 8) unpacked: 0.5
      hex("4500000080"), // -0
      hex("f8060a"), // unknown varint field 111
    ]);
    const { placement, ...rest } = demoRequest();
    const part1 = toBinary(DecideRequestSchema, create(DecideRequestSchema, { placement }));
    const part2 = toBinary(DecideRequestSchema, create(DecideRequestSchema, rest));
    const bytes = Buffer.concat([
      hex("12"),
      Buffer.from([part1.length]),
      part1,
      hex("32"),
      Buffer.from([entryBytes.length]),
      entryBytes,
      hex("12"),
      Buffer.from([part2.length]),
      part2,
      hex("9806ff01"), // unknown varint field 99
    ]);
    const decoded = decodeAuctionOutcome(bytes);
    expect(equals(AuctionOutcomeSchema, decoded, fromBinary(AuctionOutcomeSchema, bytes))).toBe(true);
    expect(equals(DecideRequestSchema, decoded.request!, demoRequest())).toBe(true);
    expect(decoded.entries[0]!.contributions).toEqual([0.5, -0]);
    expect(Object.is(decoded.entries[0]!.contributions[1], -0)).toBe(true);
    // NaN (equals() calls it unequal to itself): the same object as fromBinary's, NaN where fromBinary has it.
    const nan = toBinary(
      AuctionOutcomeSchema,
      create(AuctionOutcomeSchema, {
        entries: [
          create(AuctionEntrySchema, {
            bidMicros: Number.NaN,
            predictedResponse: Number.NaN,
            contributions: [Number.NaN],
          }),
        ],
      }),
    );
    expect(decodeAuctionOutcome(nan)).toStrictEqual(fromBinary(AuctionOutcomeSchema, nan));
    const whole = toBinary(
      AuctionOutcomeSchema,
      create(AuctionOutcomeSchema, {
        decisionId: "d",
        decidedAt: timestampFromMs(1),
        entries: [create(AuctionEntrySchema, { creativeId: "c", contributions: [1, 2] })],
      }),
    );
    // Cut anywhere: a cut between two fields is a valid shorter message, any other throws, in both decoders.
    let thrown = 0;
    for (let cut = 1; cut < whole.length; cut++) {
      const prefix = whole.subarray(0, cut);
      let expected: ReturnType<typeof decodeAuctionOutcome> | undefined;
      try {
        expected = fromBinary(AuctionOutcomeSchema, prefix);
      } catch {
        expect(() => decodeAuctionOutcome(prefix)).toThrow();
        thrown++;
        continue;
      }
      expect(equals(AuctionOutcomeSchema, decodeAuctionOutcome(prefix), expected)).toBe(true);
    }
    expect(thrown).toBeGreaterThan(whole.length / 2);
  });

  it("reads for the learning agents what it reads in full, except the contributions of entries that did not win", () => {
    fc.assert(
      fc.property(outcome, (o) => {
        for (const bytes of [toBinary(AuctionOutcomeSchema, o), encodeAuctionOutcome(o)]) {
          const shifted = Buffer.alloc(bytes.length + 3);
          shifted.set(bytes, 3);
          const expected = decodeAuctionOutcome(bytes);
          for (const e of expected.entries) if (!e.won) e.contributions = [];
          expect(decodeLearnedOutcome(shifted.subarray(3))).toStrictEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
    // Unpacked and split contributions of a winner are read in order; a loser's are checked but not read.
    const hex = (s: string) => Buffer.from(s, "hex");
    const winner = Buffer.concat([
      hex("4204" + "0000803f"), // packed [1]
      hex("2801"), // won
      hex("450000003f"), // unpacked 0.5
      hex("4208" + "0000004000004040"), // packed [2, 3]
    ]);
    const loser = Buffer.concat([hex("4204" + "0000803f"), hex("450000003f")]);
    const bytes = Buffer.concat([
      hex("32"),
      Buffer.from([winner.length]),
      winner,
      hex("32"),
      Buffer.from([loser.length]),
      loser,
    ]);
    const lean = decodeLearnedOutcome(bytes);
    expect(lean.entries.map((e) => e.contributions)).toEqual([[1, 0.5, 2, 3], []]);
    expect(decodeAuctionOutcome(bytes).entries[1]!.contributions).toEqual([1, 0.5]);
    // A loser's packed floats cut short (3 bytes) or running past the message throw, as a full read does.
    for (const bad of [hex("3205" + "4203000080"), hex("3206" + "4208" + "0000803f")]) {
      expect(() => decodeAuctionOutcome(bad)).toThrow();
      expect(() => decodeLearnedOutcome(bad)).toThrow();
    }
  });

  it("a batch: toBinary's bytes joined from each outcome's own; each outcome read as alone, in order", () => {
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 6 }), (outcomes) => {
        const batch = create(AuctionOutcomeBatchSchema, { outcomes });
        const joined = joinEncodedOutcomes(outcomes.map(encodeAuctionOutcome));
        expect(Buffer.from(joined).toString("hex")).toBe(
          Buffer.from(toBinary(AuctionOutcomeBatchSchema, batch)).toString("hex"),
        );
        const shifted = Buffer.alloc(joined.length + 3);
        shifted.set(joined, 3);
        const bytes = shifted.subarray(3);
        expect(
          equals(
            AuctionOutcomeBatchSchema,
            decodeAuctionOutcomeBatch(bytes),
            fromBinary(AuctionOutcomeBatchSchema, joined),
          ),
        ).toBe(true);
        expect(decodeLearnedOutcomes(bytes)).toStrictEqual(
          outcomes.map((o) => decodeLearnedOutcome(encodeAuctionOutcome(o))),
        );
      }),
      { numRuns: 200 },
    );
    // Cut inside an outcome, the batch throws (nothing of it is read), as fromBinary does.
    const joined = joinEncodedOutcomes([
      encodeAuctionOutcome(create(AuctionOutcomeSchema, { decisionId: "d1" })),
      encodeAuctionOutcome(create(AuctionOutcomeSchema, { decisionId: "d2" })),
    ]);
    expect(() => fromBinary(AuctionOutcomeBatchSchema, joined.subarray(0, joined.length - 1))).toThrow();
    expect(() => decodeLearnedOutcomes(joined.subarray(0, joined.length - 1))).toThrow();
    expect(decodeLearnedOutcomes(joined).map((o) => o.decisionId)).toEqual(["d1", "d2"]);
    expect(decodeLearnedOutcomes(new Uint8Array(0))).toEqual([]);
  });
});
