import { WireType } from "@bufbuild/protobuf/wire";
import type { BiddingSignal } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { cachedUtf8 } from "./wire/cached-utf8.ts";
import { FlatWriter } from "./wire/flat-writer.ts";

const LD = WireType.LengthDelimited;
const VARINT = WireType.Varint;

/**
 * BiddingSignal in its wire encoding, written field by field: Bidding republishes the campaigns it learned on every
 * 250 ms (most of them, at hundreds of decisions a second), and the reflective toBinary of those was the largest
 * part of publishSignals after the snapshot itself. The bytes are toBinary's (proto3 implicit presence, fields in
 * number order), checked by codecs.spec.ts; a field added to BiddingSignal or CampaignBidding must be added
 * here too (the spec fails until it is).
 */
export function encodeBiddingSignal(s: BiddingSignal): Uint8Array {
  const w = new FlatWriter();
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
