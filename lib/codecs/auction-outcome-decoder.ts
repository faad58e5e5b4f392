import { mergeFromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { AuctionEntry, AuctionOutcome } from "../../gen/chorus/v1/agent_pb.ts";
import { DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { decodeDecideRequest } from "./decide-request-decoder.ts";

/**
 * AuctionOutcome from its wire encoding, read field by field (the inverse of lib/codecs/auction-outcome.ts):
 * every agent host decodes one per decision with up to ~50 entries, and the reflective fromBinary (a create() and a
 * field-info walk per entry) was most of a host's CPU. The embedded DecideRequest is read by its own hand decoder
 * (decide-request-decoder.ts). Messages are built as the plain objects create() makes for these proto3
 * types. Unknown fields are skipped (fromBinary would keep them in $unknown, which equals() ignores); anything
 * malformed throws, as fromBinary does. Equivalence with fromBinary is checked by auction-outcome-codec.spec.ts; a
 * field added to AuctionOutcome or AuctionEntry must be added here too (the spec fails until it is).
 */
export function decodeAuctionOutcome(bytes: Uint8Array): AuctionOutcome {
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
  const r = new BinaryReader(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1:
        o.decisionId = r.string();
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
        o.entries.push(readEntry(r));
        break;
      case 7:
        o.agents.push(r.string());
        break;
      case 8:
        o.degradedAgents.push(r.string());
        break;
      case 9:
        o.coordination = r.string();
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

function readEntry(r: BinaryReader): AuctionEntry {
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
  while (r.pos < end) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1:
        e.creativeId = r.string();
        break;
      case 2:
        e.campaignId = r.string();
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
  return e;
}
