import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BiddingSignalSchema,
  CampaignBiddingSchema,
  OrchestratorSignalSchema,
  RelevanceSignalSchema,
} from "../../gen/chorus/v1/agent_signals_pb.ts";
import { encodeBiddingSignal } from "./bidding-signal.ts";
import { encodeMessage } from "./registry.ts";
import { decodeRelevanceSignal, encodeRelevanceSignal } from "./relevance-signal.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const bidding = fc
  .array(
    fc.record({
      campaignId: fc.oneof(fc.constant(""), fc.string(), fc.constantFrom("cmp-1", "cmp-été", "cmp-😀")),
      bidderJson: fc.oneof(fc.constant(""), fc.json(), fc.string({ unit: "grapheme" })),
      day: fc.oneof(fc.constant(0), fc.integer()),
      spentMicros: fc.oneof(fc.constant(0n), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
      opportunities: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    }),
    { maxLength: 40 },
  )
  .map((campaigns) =>
    create(BiddingSignalSchema, { campaigns: campaigns.map((c) => create(CampaignBiddingSchema, c)) }),
  );

const floats = fc.oneof(fc.constant<number[]>([]), fc.array(fc.float(), { maxLength: 600 }));
const relevance = fc
  .record({
    size: fc.oneof(fc.constant(0), fc.nat({ max: 2 ** 32 - 1 })),
    z: floats,
    n: floats,
    examples: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    positives: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  })
  .map((s) => create(RelevanceSignalSchema, s));

describe("agent signal encoders", () => {
  it("cover every field of BiddingSignal and CampaignBidding (a new field must be encoded too)", () => {
    expect(BiddingSignalSchema.fields.map((f) => f.number)).toEqual([1]);
    expect(CampaignBiddingSchema.fields.map((f) => f.number)).toEqual([1, 2, 3, 4, 5]);
    expect(RelevanceSignalSchema.fields.map((f) => f.number)).toEqual([1, 2, 3, 4, 5]);
  });

  it("write toBinary's bytes for random bidding signals", () => {
    fc.assert(
      fc.property(bidding, (s) => {
        expect(hex(encodeBiddingSignal(s))).toBe(hex(toBinary(BiddingSignalSchema, s)));
        expect(hex(encodeMessage(BiddingSignalSchema, s))).toBe(hex(toBinary(BiddingSignalSchema, s)));
      }),
      { numRuns: 300 },
    );
  });

  it("write toBinary's bytes for random relevance signals (NaN, infinities and -0 included)", () => {
    fc.assert(
      fc.property(relevance, (s) => {
        expect(hex(encodeRelevanceSignal(s))).toBe(hex(toBinary(RelevanceSignalSchema, s)));
        expect(hex(encodeMessage(RelevanceSignalSchema, s))).toBe(hex(toBinary(RelevanceSignalSchema, s)));
      }),
      { numRuns: 300 },
    );
  });

  it("read relevance signals as fromBinary does, at any offset of a NATS buffer, packed or one float per tag", () => {
    fc.assert(
      fc.property(relevance, fc.nat({ max: 7 }), (s, offset) => {
        const bytes = toBinary(RelevanceSignalSchema, s);
        const shifted = Buffer.alloc(bytes.length + offset);
        shifted.set(bytes, offset);
        const decoded = decodeRelevanceSignal(shifted.subarray(offset));
        expect(hex(toBinary(RelevanceSignalSchema, decoded))).toBe(hex(bytes));
        expect(decoded).toStrictEqual(fromBinary(RelevanceSignalSchema, bytes));
      }),
      { numRuns: 200 },
    );
    // Unpacked floats (one tag each) between packed blocks, an unknown field, and a block cut short.
    const unpacked = Buffer.from("1500000040" + "120400004040" + "1500008040" + "f8060a", "hex");
    expect(decodeRelevanceSignal(unpacked).z).toEqual([2, 3, 4]);
    // (fromBinary keeps the unknown field in $unknown, which equals() ignores; the decoder skips it.)
    expect(
      equals(RelevanceSignalSchema, decodeRelevanceSignal(unpacked), fromBinary(RelevanceSignalSchema, unpacked)),
    ).toBe(true);
    expect(() => decodeRelevanceSignal(Buffer.from("12030000c0", "hex"))).toThrow();
    expect(() => fromBinary(RelevanceSignalSchema, Buffer.from("12030000c0", "hex"))).toThrow();
  });

  it("fall back to toBinary for a signal without a hand encoder", () => {
    const s = create(OrchestratorSignalSchema, { weights: { intent: 0.5, bidding: 0 }, relevanceWeight: 0.25 });
    expect(hex(encodeMessage(OrchestratorSignalSchema, s))).toBe(hex(toBinary(OrchestratorSignalSchema, s)));
  });
});
