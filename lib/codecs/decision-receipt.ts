import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { DecisionReceipt, LeasePart, ReceiptBatch, ReceiptItem } from "../../gen/chorus/v1/ledger_pb.ts";
import { cachedUtf8 } from "./wire/cached-utf8.ts";
import { FlatWriter } from "./wire/flat-writer.ts";
import { readString } from "./wire/short-string.ts";
import { writeTimestamp } from "./wire/write-timestamp.ts";

/**
 * DecisionReceipt and ReceiptBatch from their wire encoding, field by field: the Budget agent reads every receipt of
 * every decision (alone or in a group-commit batch), and fromBinary's reflective walk was the largest part of its
 * work per decision. Plain objects as create() makes them; fields read by their declared type, as fromBinary does;
 * unknown fields skipped; anything malformed throws. Equivalence with fromBinary: codecs.spec.ts (a field added to these messages fails it until it is
 * read here).
 */
export function decodeDecisionReceipt(bytes: Uint8Array): DecisionReceipt {
  const buf = plain(bytes);
  const r = new BinaryReader(buf);
  return readReceipt(r, buf, r.len);
}

export function decodeReceiptBatch(bytes: Uint8Array): ReceiptBatch {
  const buf = plain(bytes);
  const r = new BinaryReader(buf);
  const batch: ReceiptBatch = { $typeName: "chorus.v1.ReceiptBatch", receipts: [] };
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1) batch.receipts.push(readReceipt(r, buf, end(r, "DecisionReceipt")));
    else r.skip(wire, field);
  }
  return batch;
}

const LD = WireType.LengthDelimited;
const VARINT = WireType.Varint;

/**
 * DecisionReceipt in its wire encoding, written field by field: the gateway encodes one per decision that sold,
 * before its response leaves, and toBinary's reflective walk was a twentieth of what the gateway allocated at
 * 1,000/s. The bytes are toBinary's (proto3 implicit presence, fields in number order), checked by codecs.spec.ts; a
 * field added to these messages must be added here too (the spec fails until it is).
 */
export function encodeDecisionReceipt(m: DecisionReceipt): Uint8Array {
  const w = new FlatWriter();
  if (m.decisionId) w.tag(1, LD).string(m.decisionId);
  if (m.decidedAt) writeTimestamp(w, 2, m.decidedAt);
  if (m.userId) w.tag(3, LD).string(m.userId);
  // Gateway, campaign and creative ids repeat across receipts.
  if (m.gatewayId) w.tag(4, LD).bytes(cachedUtf8(m.gatewayId));
  for (const item of m.items) {
    w.tag(5, LD).fork();
    if (item.campaignId) w.tag(1, LD).bytes(cachedUtf8(item.campaignId));
    if (item.creativeId) w.tag(2, LD).bytes(cachedUtf8(item.creativeId));
    if (item.priceMicros !== 0n) w.tag(3, VARINT).int64(item.priceMicros);
    if (item.leaseId) w.tag(4, LD).string(item.leaseId);
    for (const part of item.leaseParts) {
      w.tag(5, LD).fork();
      if (part.leaseId) w.tag(1, LD).string(part.leaseId);
      if (part.amountMicros !== 0n) w.tag(2, VARINT).int64(part.amountMicros);
      w.join();
    }
    w.join();
  }
  return w.finish();
}

/** A plain view of the same memory: a NATS message's data is a Node Buffer, whose subarray() is several times slower. */
const plain = (bytes: Uint8Array) => new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function end(r: BinaryReader, name: string): number {
  const to = r.uint32() + r.pos;
  if (to > r.len) throw new Error(`premature end of chorus.v1.${name}`);
  return to;
}

function done(r: BinaryReader, to: number, name: string): void {
  if (r.pos !== to) throw new Error(`premature end of ${name}`);
}

function readReceipt(r: BinaryReader, buf: Uint8Array, to: number): DecisionReceipt {
  const m: DecisionReceipt = {
    $typeName: "chorus.v1.DecisionReceipt",
    decisionId: "",
    userId: "",
    gatewayId: "",
    items: [],
  };
  while (r.pos < to) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1:
        m.decisionId = readString(r, buf);
        break;
      case 2:
        m.decidedAt = readTimestamp(r, m.decidedAt);
        break;
      case 3:
        m.userId = readString(r, buf);
        break;
      case 4:
        m.gatewayId = readString(r, buf);
        break;
      case 5:
        m.items.push(readItem(r, buf));
        break;
      default:
        r.skip(wire, field);
    }
  }
  done(r, to, "chorus.v1.DecisionReceipt");
  return m;
}

function readItem(r: BinaryReader, buf: Uint8Array): ReceiptItem {
  const m: ReceiptItem = {
    $typeName: "chorus.v1.ReceiptItem",
    campaignId: "",
    creativeId: "",
    priceMicros: 0n,
    leaseId: "",
    leaseParts: [],
  };
  const to = end(r, "ReceiptItem");
  while (r.pos < to) {
    const [field, wire] = r.tag();
    if (field === 1) m.campaignId = readString(r, buf);
    else if (field === 2) m.creativeId = readString(r, buf);
    else if (field === 3) m.priceMicros = BigInt(r.int64());
    else if (field === 4) m.leaseId = readString(r, buf);
    else if (field === 5) m.leaseParts.push(readPart(r, buf));
    else r.skip(wire, field);
  }
  done(r, to, "chorus.v1.ReceiptItem");
  return m;
}

function readPart(r: BinaryReader, buf: Uint8Array): LeasePart {
  const m: LeasePart = { $typeName: "chorus.v1.LeasePart", leaseId: "", amountMicros: 0n };
  const to = end(r, "LeasePart");
  while (r.pos < to) {
    const [field, wire] = r.tag();
    if (field === 1) m.leaseId = readString(r, buf);
    else if (field === 2) m.amountMicros = BigInt(r.int64());
    else r.skip(wire, field);
  }
  done(r, to, "chorus.v1.LeasePart");
  return m;
}

function readTimestamp(r: BinaryReader, into: Timestamp | undefined): Timestamp {
  const t: Timestamp = into ?? { $typeName: "google.protobuf.Timestamp", seconds: 0n, nanos: 0 };
  const to = end(r, "google.protobuf.Timestamp");
  while (r.pos < to) {
    const [field, wire] = r.tag();
    if (field === 1) t.seconds = BigInt(r.int64());
    else if (field === 2) t.nanos = r.int32();
    else r.skip(wire, field);
  }
  done(r, to, "google.protobuf.Timestamp");
  return t;
}
