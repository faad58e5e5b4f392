import { toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { AuctionEntry, AuctionOutcome } from "../../gen/chorus/v1/agent_pb.ts";
import { DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { cachedUtf8 } from "./wire/cached-utf8.ts";
import { wireBytesOf } from "./wire/wire-bytes.ts";

const LD = WireType.LengthDelimited;

/**
 * AuctionOutcome in its wire encoding, written field by field: the engine publishes one per decision with up to
 * ~50 entries, and the reflective toBinary was most of that cost. The bytes are toBinary's (proto3 implicit
 * presence: zero values are left out; fields in number order) except the embedded request, which is the client's
 * bytes when the server kept them (lib/codecs/wire/wire-bytes.ts), checked by auction-outcome.spec.ts; a field
 * added to AuctionOutcome or AuctionEntry must be added here too (the spec fails until it is).
 */
export function encodeAuctionOutcome(o: AuctionOutcome): Uint8Array {
  const w = new BinaryWriter();
  if (o.decisionId) w.tag(1, LD).string(o.decisionId);
  // The request as the client sent it when the server kept its bytes (it is not changed after decoding).
  if (o.request) w.tag(2, LD).bytes(wireBytesOf(o.request) ?? toBinary(DecideRequestSchema, o.request));
  if (o.inventoryVersion !== 0n) w.tag(3, WireType.Varint).uint64(o.inventoryVersion);
  if (o.decidedAt) {
    w.tag(4, LD).fork();
    if (o.decidedAt.seconds !== 0n) w.tag(1, WireType.Varint).int64(o.decidedAt.seconds);
    if (o.decidedAt.nanos !== 0) w.tag(2, WireType.Varint).int32(o.decidedAt.nanos);
    w.join();
  }
  if (o.reservePriceMicros !== 0n) w.tag(5, WireType.Varint).int64(o.reservePriceMicros);
  for (const e of o.entries) writeEntry(w.tag(6, LD).fork(), e).join();
  for (const a of o.agents) w.tag(7, LD).string(a);
  for (const a of o.degradedAgents) w.tag(8, LD).string(a);
  if (o.coordination) w.tag(9, LD).string(o.coordination);
  return w.finish();
}

function writeEntry(w: BinaryWriter, e: AuctionEntry): BinaryWriter {
  if (e.creativeId) w.tag(1, LD).bytes(cachedUtf8(e.creativeId));
  if (e.campaignId) w.tag(2, LD).bytes(cachedUtf8(e.campaignId));
  // -0 is not the default value (its bits differ): toBinary writes it.
  if (!Object.is(e.bidMicros, 0)) w.tag(3, WireType.Bit64).double(e.bidMicros);
  if (!Object.is(e.predictedResponse, 0)) w.tag(4, WireType.Bit32).float(e.predictedResponse);
  if (e.won) w.tag(5, WireType.Varint).bool(true);
  if (e.priceMicros !== 0n) w.tag(6, WireType.Varint).int64(e.priceMicros);
  if (e.position !== 0) w.tag(7, WireType.Varint).uint32(e.position);
  if (e.contributions.length > 0) {
    w.tag(8, LD).fork();
    for (const c of e.contributions) w.float(c);
    w.join();
  }
  if (e.priceToBeatMicros !== 0n) w.tag(9, WireType.Varint).int64(e.priceToBeatMicros);
  return w;
}
