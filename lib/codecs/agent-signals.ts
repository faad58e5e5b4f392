import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  type BiddingSignal,
  BiddingSignalSchema,
  type RelevanceSignal,
  RelevanceSignalSchema,
} from "../../gen/chorus/v1/agent_signals_pb.ts";
import { cachedUtf8 } from "./wire/cached-utf8.ts";
import { writePackedFloats } from "./wire/packed-floats.ts";

const LD = WireType.LengthDelimited;
const VARINT = WireType.Varint;

/**
 * BiddingSignal in its wire encoding, written field by field: Bidding republishes the campaigns it learned on every
 * 250 ms (most of them, at hundreds of decisions a second), and the reflective toBinary of those was the largest
 * part of publishSignals after the snapshot itself. The bytes are toBinary's (proto3 implicit presence, fields in
 * number order), checked by signal-encoders.spec.ts; a field added to BiddingSignal or CampaignBidding must be added
 * here too (the spec fails until it is).
 */
export function encodeBiddingSignal(s: BiddingSignal): Uint8Array {
  const w = new BinaryWriter();
  for (const c of s.campaigns) {
    w.tag(1, LD).fork();
    if (c.campaignId) w.tag(1, LD).bytes(cachedUtf8(c.campaignId));
    if (c.bidderJson) w.tag(2, LD).string(c.bidderJson);
    if (c.day !== 0) w.tag(3, VARINT).int32(c.day);
    if (c.spentMicros !== 0n) w.tag(4, VARINT).int64(c.spentMicros);
    if (c.opportunities !== 0n) w.tag(5, VARINT).uint64(c.opportunities);
    w.join();
  }
  return w.finish();
}

/**
 * RelevanceSignal in its wire encoding: the model's two 4096-float lists are written as one block each (toBinary
 * writes packed floats one DataView call at a time: nearly all of host 1's publishSignals). toBinary's bytes,
 * checked by signal-encoders.spec.ts (a new field must be added here too).
 */
export function encodeRelevanceSignal(s: RelevanceSignal): Uint8Array {
  const w = new BinaryWriter();
  if (s.size !== 0) w.tag(1, VARINT).uint32(s.size);
  writePackedFloats(w, 2, s.z);
  writePackedFloats(w, 3, s.n);
  if (s.examples !== 0n) w.tag(4, VARINT).uint64(s.examples);
  if (s.positives !== 0n) w.tag(5, VARINT).uint64(s.positives);
  return w.finish();
}

const ENCODERS = new Map<DescMessage, (signal: never) => Uint8Array>([
  [BiddingSignalSchema, encodeBiddingSignal],
  [RelevanceSignalSchema, encodeRelevanceSignal],
]);

/** An agent signal's bytes: a hand encoder's where there is one (the same bytes), toBinary's otherwise. */
export function encodeSignal<M extends DescMessage>(schema: M, signal: MessageShape<M>): Uint8Array {
  const encode = ENCODERS.get(schema);
  return encode ? encode(signal as never) : toBinary(schema, signal);
}
