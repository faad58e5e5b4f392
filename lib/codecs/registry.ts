/**
 * Every hand-written protobuf codec, by message: the one look-up table. Each codec gives the bytes toBinary gives
 * (encode) and the message fromBinary gives (decode), only faster on a measured hot path; codecs.spec.ts checks
 * every entry here against toBinary/fromBinary, so a codec added here is checked without writing a new spec. A
 * message without a hand-written direction is read and written by @bufbuild/protobuf as usual.
 */
import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { AgentVoteSchema, AuctionOutcomeBatchSchema, AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { BiddingSignalSchema, RelevanceSignalSchema } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { DecideRequestSchema, DecideResponseSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { DecisionReceiptSchema, ReceiptBatchSchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { decodeAgentVote, encodeAgentVote } from "./agent-vote.ts";
import {
  decodeAuctionOutcome,
  decodeAuctionOutcomeBatch,
  encodeAuctionOutcome,
  encodeAuctionOutcomeBatch,
} from "./auction-outcome.ts";
import { encodeBiddingSignal } from "./bidding-signal.ts";
import { decodeDecideRequest } from "./decide-request.ts";
import { encodeDecideResponse } from "./decide-response.ts";
import { decodeDecisionReceipt, decodeReceiptBatch, encodeDecisionReceipt } from "./decision-receipt.ts";
import { decodeRelevanceSignal, encodeRelevanceSignal } from "./relevance-signal.ts";

export interface Codec<S extends DescMessage = DescMessage> {
  readonly schema: S;
  /** Where it runs, for people: why this message has a hand-written codec. */
  readonly hotPath: string;
  readonly encode?: (message: MessageShape<S>) => Uint8Array;
  readonly decode?: (bytes: Uint8Array) => MessageShape<S>;
}

const codec = <S extends DescMessage>(c: Codec<S>): Codec => c as unknown as Codec;

export const CODECS: readonly Codec[] = [
  codec({
    schema: AgentVoteSchema,
    hotPath: "every vote an agent sends and the gateway gathers",
    encode: encodeAgentVote,
    decode: decodeAgentVote,
  }),
  codec({
    schema: AuctionOutcomeSchema,
    hotPath: "built per decision by the gateway, read by every learning agent host",
    encode: encodeAuctionOutcome,
    decode: decodeAuctionOutcome,
  }),
  codec({
    schema: AuctionOutcomeBatchSchema,
    hotPath: "the gateway's AuctionOutcomes of 20 ms, one message read by every learning agent host",
    encode: encodeAuctionOutcomeBatch,
    decode: decodeAuctionOutcomeBatch,
  }),
  codec({
    schema: DecideRequestSchema,
    hotPath: "every Decide request, and the one inside every AuctionOutcome",
    decode: decodeDecideRequest,
  }),
  codec({
    schema: DecisionReceiptSchema,
    hotPath: "every receipt a gateway stores and the Budget agent reads (one per decision that sold)",
    encode: encodeDecisionReceipt,
    decode: decodeDecisionReceipt,
  }),
  codec({
    schema: ReceiptBatchSchema,
    hotPath: "receipts stored together by group commit",
    decode: decodeReceiptBatch,
  }),
  codec({ schema: DecideResponseSchema, hotPath: "every Decide response", encode: encodeDecideResponse }),
  codec({ schema: BiddingSignalSchema, hotPath: "Bidding's signal, every 250 ms", encode: encodeBiddingSignal }),
  codec({
    schema: RelevanceSignalSchema,
    hotPath: "Relevance's 2 x 4096-float model, published and read by every gateway's mirror",
    encode: encodeRelevanceSignal,
    decode: decodeRelevanceSignal,
  }),
];

const encoders = new Map(CODECS.filter((c) => c.encode).map((c) => [c.schema, c.encode!]));
const decoders = new Map(CODECS.filter((c) => c.decode).map((c) => [c.schema, c.decode!]));

/** A message's bytes: its hand-written encoder's where there is one (the same bytes), toBinary's otherwise. */
export function encodeMessage<S extends DescMessage>(schema: S, message: MessageShape<S>): Uint8Array {
  const encode = encoders.get(schema);
  return encode ? encode(message) : toBinary(schema, message);
}

/** A message from its bytes: its hand-written decoder where there is one (the same message), fromBinary otherwise. */
export function decodeMessage<S extends DescMessage>(schema: S, bytes: Uint8Array): MessageShape<S> {
  const decode = decoders.get(schema);
  return decode ? (decode(bytes) as MessageShape<S>) : fromBinary(schema, bytes);
}

/** True when `schema` has a hand-written decoder (callers that keep fromBinary's extras, e.g. wire bytes, ask). */
export function hasDecoder(schema: DescMessage): boolean {
  return decoders.has(schema);
}
