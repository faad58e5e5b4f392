import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AuctionEntrySchema, AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { demoRequest } from "../demo/demo-request.ts";
import { createSeededRandom } from "../random/seeded-random.ts";
import { encodeAuctionOutcome } from "./auction-outcome.ts";
import { rememberWireBytes } from "./wire/wire-bytes.ts";

describe("auction outcome - hand-written encoding", () => {
  it("covers every field of AuctionOutcome and AuctionEntry (a new field must be encoded too)", () => {
    expect(AuctionOutcomeSchema.fields.map((f) => f.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(AuctionEntrySchema.fields.map((f) => f.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("writes toBinary's bytes, zero values and edge values included", () => {
    const rnd = createSeededRandom(9);
    const maybe = <T>(value: T, zero: T) => (rnd() < 0.3 ? zero : value);
    for (let i = 0; i < 200; i++) {
      const entries = Array.from({ length: Math.floor(rnd() * 6) }, (_, e) =>
        create(AuctionEntrySchema, {
          creativeId: maybe(`cr-${e}-é`, ""),
          campaignId: maybe(`cmp-${e}`, ""),
          bidMicros: maybe(rnd() * 1e6 - 1e3, rnd() < 0.5 ? 0 : -0),
          predictedResponse: maybe(Math.fround(rnd()), rnd() < 0.5 ? 0 : -0),
          won: rnd() < 0.5,
          priceMicros: maybe(BigInt(Math.floor(rnd() * 1e9)) - 10n, 0n),
          position: maybe(e + 1, 0),
          contributions: maybe([0, -0.5, Math.fround(rnd()), Number.NaN], []),
          priceToBeatMicros: maybe(BigInt(Math.floor(rnd() * 1e6)), 0n),
        }),
      );
      const outcome = create(AuctionOutcomeSchema, {
        decisionId: maybe(crypto.randomUUID(), ""),
        request: rnd() < 0.8 ? demoRequest() : undefined,
        inventoryVersion: maybe(BigInt(Math.floor(rnd() * 2 ** 32)), 0n),
        decidedAt: rnd() < 0.8 ? timestampFromMs(maybe(Date.now() + Math.floor(rnd() * 999), 0)) : undefined,
        reservePriceMicros: maybe(2_000n, 0n),
        entries,
        agents: maybe(["intent", "relevance", ""], []),
        degradedAgents: maybe(["timing"], []),
        coordination: maybe("cached", ""),
      });
      expect(Buffer.from(encodeAuctionOutcome(outcome)).toString("hex")).toBe(
        Buffer.from(toBinary(AuctionOutcomeSchema, outcome)).toString("hex"),
      );
    }
  });

  it("embeds a decoded request as the bytes the client sent, which decode to the same request", () => {
    const { placement, ...rest } = demoRequest();
    // Fields out of number order: valid protobuf that toBinary would write differently.
    const sent = Buffer.concat([
      toBinary(DecideRequestSchema, create(DecideRequestSchema, { placement })),
      toBinary(DecideRequestSchema, create(DecideRequestSchema, rest)),
    ]);
    // As the gateway's server decodes a request (gateway/server/grpc-unary.ts decodeBinary).
    const request = fromBinary(DecideRequestSchema, sent);
    rememberWireBytes(request, sent);
    expect(Buffer.from(toBinary(DecideRequestSchema, request)).equals(sent)).toBe(false);
    const bytes = encodeAuctionOutcome(create(AuctionOutcomeSchema, { decisionId: "d-1", request }));
    expect(Buffer.from(bytes).includes(sent)).toBe(true);
    const decoded = fromBinary(AuctionOutcomeSchema, bytes);
    expect(equals(DecideRequestSchema, decoded.request!, request)).toBe(true);
    // A request built in process (no bytes kept) is encoded as before.
    const built = demoRequest();
    const fresh = encodeAuctionOutcome(create(AuctionOutcomeSchema, { decisionId: "d-2", request: built }));
    expect(Buffer.from(fresh).includes(Buffer.from(toBinary(DecideRequestSchema, built)))).toBe(true);
  });
});
