import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AgentVoteSchema, CandidateVetoSchema, TimingAdviceSchema, VetoReason } from "../../gen/chorus/v1/agent_pb.ts";
import { decodeAgentVote, encodeAgentVote } from "./agent-vote.ts";

const f32 = fc.float({ noNaN: true });
const floats = fc.oneof(fc.constant<number[]>([]), fc.array(f32, { maxLength: 300 }));
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const vote = fc
  .record({
    agent: fc.constantFrom("", "intent", "relevance", "bidding"),
    runId: fc.oneof(fc.constant(""), fc.uuid()),
    inventoryVersion: fc.oneof(fc.constant(0n), u64),
    confidence: fc.oneof(fc.constant(0), f32),
    scores: floats,
    vetoes: fc.array(
      fc.record({
        candidate: fc.nat({ max: 2 ** 32 - 1 }),
        reason: fc.constantFrom(...Object.values(VetoReason).filter((v): v is number => typeof v === "number")),
        detail: fc.oneof(fc.constant(""), fc.string(), fc.constant("targeting: country ÉS not in [DE, FR]")),
      }),
      { maxLength: 40 },
    ),
    intentVector: floats,
    bidsMicros: floats,
    predictedResponse: floats,
    formats: fc.array(fc.nat({ max: 2 ** 32 - 1 }), { maxLength: 50 }),
    timing: fc.option(
      fc.record({ breakNow: fc.boolean(), insertionOffsetMs: fc.nat(), intrusiveness: f32, reason: fc.string() }),
      { nil: undefined },
    ),
    stateRevision: fc.oneof(fc.constant(0n), u64),
    moduleVersion: fc.constantFrom("", "1.0.0", "2.1.0-rc.1"),
    computeUs: fc.nat({ max: 2 ** 32 - 1 }),
    weights: fc.dictionary(fc.constantFrom("intent", "relevance", "timing", ""), fc.oneof(fc.constant(0), f32)),
    relevanceWeight: fc.oneof(fc.constant(0), f32),
  })
  .map(({ vetoes, timing, ...rest }) =>
    create(AgentVoteSchema, {
      ...rest,
      vetoes: vetoes.map((v) => create(CandidateVetoSchema, v)),
      timing: timing && create(TimingAdviceSchema, timing),
    }),
  );

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("agent vote codec", () => {
  it("agent vote codec - covers every field of AgentVote (a new field must be encoded too)", () => {
    expect(AgentVoteSchema.fields.map((f) => f.number)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    ]);
  });

  it("agent vote codec - writes toBinary's bytes and reads back what fromBinary reads", () => {
    fc.assert(
      fc.property(vote, (v) => {
        const bytes = encodeAgentVote(v);
        expect(hex(bytes)).toBe(hex(toBinary(AgentVoteSchema, v)));
        // At an odd offset inside a larger Node Buffer, as a NATS message hands it over.
        const shifted = Buffer.alloc(bytes.length + 3);
        shifted.set(bytes, 3);
        const decoded = decodeAgentVote(shifted.subarray(3));
        expect(equals(AgentVoteSchema, decoded, fromBinary(AgentVoteSchema, bytes))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("agent vote codec - reads unpacked floats, skips unknown fields and refuses truncated input", () => {
    const v = create(AgentVoteSchema, { agent: "timing", scores: [0.5, -0], confidence: 0.25 });
    // Field 5 unpacked (wire type 5, one float per tag) then an unknown varint field 99.
    const unpacked = Buffer.concat([
      Buffer.from("0a0674696d696e67250000803e", "hex"),
      Buffer.from("2d0000003f", "hex"),
      Buffer.from("2d00000080", "hex"),
      Buffer.from("98060a", "hex"),
    ]);
    const decoded = decodeAgentVote(unpacked);
    expect(equals(AgentVoteSchema, decoded, v)).toBe(true);
    expect(Object.is(decoded.scores[1], -0)).toBe(true);
    const bytes = encodeAgentVote(create(AgentVoteSchema, { scores: [1, 2, 3] }));
    expect(() => decodeAgentVote(bytes.subarray(0, bytes.length - 1))).toThrow();
  });
});
