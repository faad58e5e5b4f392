import { mergeFromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { AuctionEntry, AuctionOutcome, AuctionOutcomeBatch } from "../../gen/chorus/v1/agent_pb.ts";
import { DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { decodeDecideRequest } from "./decide-request.ts";
import { cachedUtf8 } from "./wire/cached-utf8.ts";
import { FlatWriter } from "./wire/flat-writer.ts";
import { readString } from "./wire/short-string.ts";
import { wireBytesOf } from "./wire/wire-bytes.ts";
import { writeTimestamp } from "./wire/write-timestamp.ts";

const LD = WireType.LengthDelimited;

/**
 * AuctionOutcome in its wire encoding, written field by field: the engine publishes one per decision with up to
 * ~50 entries, and the reflective toBinary was most of that cost. The bytes are toBinary's (proto3 implicit
 * presence: zero values are left out; fields in number order) except the embedded request, which is the client's
 * bytes when the server kept them (lib/codecs/wire/wire-bytes.ts), checked by auction-outcome.spec.ts; a field
 * added to AuctionOutcome or AuctionEntry must be added here too (the spec fails until it is).
 */
export function encodeAuctionOutcome(o: AuctionOutcome): Uint8Array {
  const w = new FlatWriter();
  if (o.decisionId) w.tag(1, LD).string(o.decisionId);
  // The request as the client sent it when the server kept its bytes (it is not changed after decoding).
  if (o.request) w.tag(2, LD).bytes(wireBytesOf(o.request) ?? toBinary(DecideRequestSchema, o.request));
  if (o.inventoryVersion !== 0n) w.tag(3, WireType.Varint).uint64(o.inventoryVersion);
  if (o.decidedAt) writeTimestamp(w, 4, o.decidedAt);
  if (o.reservePriceMicros !== 0n) w.tag(5, WireType.Varint).int64(o.reservePriceMicros);
  for (const e of o.entries) writeEntry(w.tag(6, LD).fork(), e).join();
  for (const a of o.agents) w.tag(7, LD).string(a);
  for (const a of o.degradedAgents) w.tag(8, LD).string(a);
  if (o.coordination) w.tag(9, LD).string(o.coordination);
  return w.finish();
}

/**
 * An AuctionOutcomeBatch's bytes from its outcomes' own encodings (encodeAuctionOutcome's), in order: field 1 once
 * per outcome. The gateway encodes each outcome as its decision ends and joins a window's outcomes when it closes.
 */
export function joinEncodedOutcomes(encoded: readonly Uint8Array[]): Uint8Array {
  const w = new FlatWriter();
  for (const bytes of encoded) w.tag(1, LD).bytes(bytes);
  return w.finish();
}

/** AuctionOutcomeBatch in its wire encoding: toBinary's bytes (each outcome as encodeAuctionOutcome writes it). */
export function encodeAuctionOutcomeBatch(batch: AuctionOutcomeBatch): Uint8Array {
  return joinEncodedOutcomes(batch.outcomes.map(encodeAuctionOutcome));
}

function writeEntry(w: FlatWriter, e: AuctionEntry): FlatWriter {
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

/**
 * AuctionOutcome from its wire encoding, read field by field (the inverse of encodeAuctionOutcome above):
 * every agent host decodes one per decision with up to ~50 entries, and the reflective fromBinary (a create() and a
 * field-info walk per entry) was most of a host's CPU. The embedded DecideRequest is read by its own hand decoder
 * (decide-request.ts). Messages are built as the plain objects create() makes for these proto3
 * types. Unknown fields are skipped (fromBinary would keep them in $unknown, which equals() ignores); anything
 * malformed throws, as fromBinary does. Equivalence with fromBinary is checked by auction-outcome-decode.spec.ts and codecs.spec.ts; a
 * field added to AuctionOutcome or AuctionEntry must be added here too (the spec fails until it is).
 */
export function decodeAuctionOutcome(bytes: Uint8Array): AuctionOutcome {
  return readOutcome(bytes, false);
}

/**
 * The AuctionOutcome as the learning agents read it: decodeAuctionOutcome's message, except that an entry that did
 * not win has no `contributions` (left empty, not read). Each agent's share of a quality is read only for a winner
 * (the Orchestrator's credit); the losers' were over half of the floats of a decode. Checked against
 * decodeAuctionOutcome by auction-outcome-decode.spec.ts.
 */
export function decodeLearnedOutcome(bytes: Uint8Array): AuctionOutcome {
  return readOutcome(bytes, true);
}

/** AuctionOutcomeBatch from its wire encoding: each outcome read by decodeAuctionOutcome (the same message). */
export function decodeAuctionOutcomeBatch(bytes: Uint8Array): AuctionOutcomeBatch {
  return { $typeName: "chorus.v1.AuctionOutcomeBatch", outcomes: readOutcomes(bytes, false) };
}

/**
 * The outcomes of an AuctionOutcomeBatch as the learning agents read them (decodeLearnedOutcome's, in order): what
 * an agent host does with every batch the gateways publish. Malformed anywhere, it throws (nothing is read).
 */
export function decodeLearnedOutcomes(bytes: Uint8Array): AuctionOutcome[] {
  return readOutcomes(bytes, true);
}

function readOutcomes(bytes: Uint8Array, lean: boolean): AuctionOutcome[] {
  const outcomes: AuctionOutcome[] = [];
  const r = new BinaryReader(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1) outcomes.push(lean ? decodeLearnedOutcome(r.bytes()) : decodeAuctionOutcome(r.bytes()));
    else r.skip(wire, field);
  }
  return outcomes;
}

function readOutcome(bytes: Uint8Array, lean: boolean): AuctionOutcome {
  const o: AuctionOutcome = {
    $typeName: "chorus.v1.AuctionOutcome",
    decisionId: "",
    // request and decided_at are left out while unset, as create() leaves them (equal either way; same keys).
    inventoryVersion: 0n,
    reservePriceMicros: 0n,
    entries: [],
    agents: [],
    degradedAgents: [],
    coordination: "",
  };
  // A NATS message's data is a Node Buffer, whose subarray() (one per string and entry) is several times slower
  // than a plain Uint8Array's: read through a plain view of the same memory.
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new BinaryReader(view);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1:
        o.decisionId = readString(r, view);
        break;
      case 2:
        // A message field met twice is merged, as fromBinary does.
        o.request = o.request
          ? mergeFromBinary(DecideRequestSchema, o.request, r.bytes())
          : decodeDecideRequest(r.bytes());
        break;
      case 3:
        o.inventoryVersion = BigInt(r.uint64());
        break;
      case 4:
        o.decidedAt = readTimestamp(r, o.decidedAt);
        break;
      case 5:
        o.reservePriceMicros = BigInt(r.int64());
        break;
      case 6:
        o.entries.push(readEntry(r, view, lean));
        break;
      case 7:
        o.agents.push(readString(r, view));
        break;
      case 8:
        o.degradedAgents.push(readString(r, view));
        break;
      case 9:
        o.coordination = readString(r, view);
        break;
      default:
        r.skip(wire, field);
    }
  }
  return o;
}

function readTimestamp(r: BinaryReader, into: Timestamp | undefined): Timestamp {
  const t: Timestamp = into ?? { $typeName: "google.protobuf.Timestamp", seconds: 0n, nanos: 0 };
  const end = r.uint32() + r.pos;
  if (end > r.len) throw new Error("premature end of google.protobuf.Timestamp");
  while (r.pos < end) {
    const [field, wire] = r.tag();
    if (field === 1) t.seconds = BigInt(r.int64());
    else if (field === 2) t.nanos = r.int32();
    else r.skip(wire, field);
  }
  if (r.pos !== end) throw new Error("premature end of google.protobuf.Timestamp");
  return t;
}

/** Contribution ranges ([start, end) pairs) of the entry being read by a learner's decode (never re-entered). */
const pendingContributions: number[] = [];
let pendingCount = 0;

function readEntry(r: BinaryReader, buf: Uint8Array, lean: boolean): AuctionEntry {
  const e: AuctionEntry = {
    $typeName: "chorus.v1.AuctionEntry",
    creativeId: "",
    campaignId: "",
    bidMicros: 0,
    predictedResponse: 0,
    won: false,
    priceMicros: 0n,
    position: 0,
    contributions: [],
    priceToBeatMicros: 0n,
  };
  const end = r.uint32() + r.pos;
  if (end > r.len) throw new Error("premature end of chorus.v1.AuctionEntry");
  pendingCount = 0;
  while (r.pos < end) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1:
        e.creativeId = readString(r, buf);
        break;
      case 2:
        e.campaignId = readString(r, buf);
        break;
      case 3:
        e.bidMicros = r.double();
        break;
      case 4:
        e.predictedResponse = r.float();
        break;
      case 5:
        e.won = r.bool();
        break;
      case 6:
        e.priceMicros = BigInt(r.int64());
        break;
      case 7:
        e.position = r.uint32();
        break;
      case 8:
        if (lean) {
          // Only a winner's are read (below, once `won` is known): noted where they are, checked as they would be.
          let start = r.pos;
          let to = start + 4;
          if (wire === WireType.LengthDelimited) {
            const n = r.uint32();
            start = r.pos;
            to = start + n;
          }
          if (to > r.len) throw new Error("premature EOF");
          if ((to - start) % 4 !== 0) throw new Error("packed float field not a multiple of 4 bytes");
          pendingContributions[pendingCount++] = start;
          pendingContributions[pendingCount++] = to;
          r.pos = to;
          break;
        }
        // Packed (the proto3 default) or, as a reader must also accept, one float per tag. A handful per entry
        // (one per agent): read in place.
        if (wire === WireType.LengthDelimited) {
          const to = r.uint32() + r.pos;
          while (r.pos < to) e.contributions.push(r.float());
          if (r.pos !== to) throw new Error("packed float field not a multiple of 4 bytes");
        } else e.contributions.push(r.float());
        break;
      case 9:
        e.priceToBeatMicros = BigInt(r.int64());
        break;
      default:
        r.skip(wire, field);
    }
  }
  if (r.pos !== end) throw new Error("premature end of chorus.v1.AuctionEntry");
  if (lean && e.won && pendingCount > 0) {
    for (let i = 0; i < pendingCount; i += 2) {
      r.pos = pendingContributions[i]!;
      while (r.pos < pendingContributions[i + 1]!) e.contributions.push(r.float());
    }
    r.pos = end;
  }
  return e;
}
