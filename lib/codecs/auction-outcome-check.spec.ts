import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AuctionEntrySchema, AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { demoRequest } from "../demo/demo-request.ts";
import { outOfRangeValues } from "../validation/value-bounds.ts";
import { auctionOutcomeProblems } from "./auction-outcome-check.ts";

// Mostly clean values (the common case) with the edges each check is about: NaN, infinities, +-2^53 and beyond.
const f = fc.oneof(
  { weight: 6, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0) },
);
const edge = BigInt(Number.MAX_SAFE_INTEGER);
const i64 = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt({ min: -edge, max: edge }) },
  { weight: 1, arbitrary: fc.constantFrom(edge + 1n, -edge - 1n, 2n ** 63n - 1n, -(2n ** 63n), edge, -edge) },
);
const entry = fc
  .record({
    bidMicros: f,
    predictedResponse: f,
    priceMicros: i64,
    priceToBeatMicros: i64,
    contributions: fc.array(f, { maxLength: 7 }),
    won: fc.boolean(),
    position: fc.nat(),
  })
  .map((e) => create(AuctionEntrySchema, { creativeId: "cr-1", campaignId: "cmp-1", ...e }));
const outcome = fc
  .record({
    entries: fc.array(entry, { maxLength: 8 }),
    reservePriceMicros: i64,
    inventoryVersion: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    decidedAtMs: fc.option(fc.integer({ min: -1e13, max: 1e13 }), { nil: undefined }),
    withRequest: fc.boolean(),
  })
  .map(({ decidedAtMs, withRequest, ...o }) =>
    create(AuctionOutcomeSchema, {
      decisionId: "d",
      ...o,
      ...(decidedAtMs === undefined ? {} : { decidedAt: timestampFromMs(decidedAtMs) }),
      ...(withRequest ? { request: demoRequest() } : {}),
    }),
  );

describe("auctionOutcomeProblems", () => {
  it("finds exactly the problems the schema walk finds, in the same words and order", () => {
    fc.assert(
      fc.property(outcome, (o) => {
        expect(auctionOutcomeProblems(o)).toEqual(outOfRangeValues(AuctionOutcomeSchema, o));
      }),
      { numRuns: 2000 },
    );
  });

  it("names a bad entry's field", () => {
    const o = create(AuctionOutcomeSchema, {
      decisionId: "d",
      entries: [create(AuctionEntrySchema, {}), create(AuctionEntrySchema, { contributions: [1, Number.NaN] })],
    });
    expect(auctionOutcomeProblems(o)).toEqual(["entries[1].contributions[1]: NaN is not finite"]);
  });
});
