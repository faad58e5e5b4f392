import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { Consent, Device, Geo, User } from "../../gen/chorus/v1/common_pb.ts";
import {
  type DecideRequest,
  DecideRequestSchema,
  type ListeningContext,
  type Placement,
} from "../../gen/chorus/v1/decision_pb.ts";

/** Thrown inside the hand decoder when it meets what only fromBinary reproduces exactly (an unknown field). */
class NeedsReflection extends Error {}

/**
 * DecideRequest from its wire encoding, read field by field: the gateway decodes one per decision and every agent
 * host one more inside each AuctionOutcome, and the reflective fromBinary (a create() and a field-info walk per
 * message, six messages per request) cost ~50 µs each time. Messages are built as the plain objects create()
 * makes (message fields absent until met; a message field met twice is merged, scalars last-wins, repeated
 * scalars packed or not). A request with a field this decoder does not know (a newer client), a wire type it does
 * not expect, or malformed bytes is handed to fromBinary instead, so unknown fields are kept and errors read
 * exactly as before. Equivalence with fromBinary is property-checked by decide-request.spec.ts and codecs.spec.ts, which also fails when
 * a field is added to one of these messages until it is decoded here.
 */
export function decodeDecideRequest(bytes: Uint8Array): DecideRequest {
  // A Node Buffer's subarray() (one per string) is several times slower than a plain Uint8Array's.
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return readRequest(new BinaryReader(view));
  } catch {
    return fromBinary(DecideRequestSchema, view);
  }
}

function readRequest(r: BinaryReader): DecideRequest {
  const m = {
    $typeName: "chorus.v1.DecideRequest",
    requestId: "",
    deadlineMs: 0,
    explain: false,
  } as DecideRequest;
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1:
        expect(wire, WireType.LengthDelimited);
        m.requestId = r.string();
        break;
      case 2:
        m.placement = readPlacement(r, wire, m.placement);
        break;
      case 3:
        m.user = readUser(r, wire, m.user);
        break;
      case 4:
        m.device = readDevice(r, wire, m.device);
        break;
      case 5:
        m.context = readContext(r, wire, m.context);
        break;
      case 6:
        expect(wire, WireType.Varint);
        m.deadlineMs = r.uint32();
        break;
      case 7:
        expect(wire, WireType.Varint);
        m.explain = r.bool();
        break;
      default:
        throw new NeedsReflection();
    }
  }
  return m;
}

/** The end offset of a length-delimited submessage starting at the reader's position. */
function enter(r: BinaryReader, wire: WireType, name: string): number {
  expect(wire, WireType.LengthDelimited);
  const end = r.uint32() + r.pos;
  if (end > r.len) throw new Error(`premature end of ${name}`);
  return end;
}

/** A known field with an unexpected wire type: fromBinary decides what that means. */
function expect(wire: WireType, wanted: WireType): void {
  if (wire !== wanted) throw new NeedsReflection();
}

function readPlacement(r: BinaryReader, wire: WireType, into: Placement | undefined): Placement {
  const end = enter(r, wire, "chorus.v1.Placement");
  const m =
    into ??
    ({
      $typeName: "chorus.v1.Placement",
      placementId: "",
      breakKind: 0,
      maxDurationMs: 0,
      maxAds: 0,
      allowedFormats: [],
      floorPriceMicros: 0n,
      forceNow: false,
    } as Placement);
  while (r.pos < end) {
    const [field, w] = r.tag();
    switch (field) {
      case 1:
        expect(w, WireType.LengthDelimited);
        m.placementId = r.string();
        break;
      case 2:
        expect(w, WireType.Varint);
        m.breakKind = r.int32();
        break;
      case 3:
        expect(w, WireType.Varint);
        m.maxDurationMs = r.uint32();
        break;
      case 4:
        expect(w, WireType.Varint);
        m.maxAds = r.uint32();
        break;
      case 5:
        readRepeated(r, w, m.allowedFormats, readInt32);
        break;
      case 6:
        expect(w, WireType.Varint);
        m.floorPriceMicros = BigInt(r.int64());
        break;
      case 7:
        expect(w, WireType.Varint);
        m.forceNow = r.bool();
        break;
      default:
        throw new NeedsReflection();
    }
  }
  if (r.pos !== end) throw new Error("premature end of chorus.v1.Placement");
  return m;
}

function readUser(r: BinaryReader, wire: WireType, into: User | undefined): User {
  const end = enter(r, wire, "chorus.v1.User");
  const m = into ?? ({ $typeName: "chorus.v1.User", userId: "", ageBracket: 0 } as User);
  while (r.pos < end) {
    const [field, w] = r.tag();
    switch (field) {
      case 1:
        expect(w, WireType.LengthDelimited);
        m.userId = r.string();
        break;
      case 2:
        m.consent = readConsent(r, w, m.consent);
        break;
      case 3:
        expect(w, WireType.Varint);
        m.ageBracket = r.int32();
        break;
      case 4:
        m.geo = readGeo(r, w, m.geo);
        break;
      default:
        throw new NeedsReflection();
    }
  }
  if (r.pos !== end) throw new Error("premature end of chorus.v1.User");
  return m;
}

function readConsent(r: BinaryReader, wire: WireType, into: Consent | undefined): Consent {
  const end = enter(r, wire, "chorus.v1.Consent");
  const m = into ?? ({ $typeName: "chorus.v1.Consent", personalizedAds: false, measurement: false } as Consent);
  while (r.pos < end) {
    const [field, w] = r.tag();
    expect(w, WireType.Varint);
    if (field === 1) m.personalizedAds = r.bool();
    else if (field === 2) m.measurement = r.bool();
    else throw new NeedsReflection();
  }
  if (r.pos !== end) throw new Error("premature end of chorus.v1.Consent");
  return m;
}

function readGeo(r: BinaryReader, wire: WireType, into: Geo | undefined): Geo {
  const end = enter(r, wire, "chorus.v1.Geo");
  const m = into ?? ({ $typeName: "chorus.v1.Geo", country: "", region: "" } as Geo);
  while (r.pos < end) {
    const [field, w] = r.tag();
    expect(w, WireType.LengthDelimited);
    if (field === 1) m.country = r.string();
    else if (field === 2) m.region = r.string();
    else throw new NeedsReflection();
  }
  if (r.pos !== end) throw new Error("premature end of chorus.v1.Geo");
  return m;
}

function readDevice(r: BinaryReader, wire: WireType, into: Device | undefined): Device {
  const end = enter(r, wire, "chorus.v1.Device");
  const m =
    into ??
    ({
      $typeName: "chorus.v1.Device",
      type: 0,
      os: "",
      screenOn: false,
      foreground: false,
      touch: false,
      appId: "",
      appVersion: "",
    } as Device);
  while (r.pos < end) {
    const [field, w] = r.tag();
    switch (field) {
      case 1:
        expect(w, WireType.Varint);
        m.type = r.int32();
        break;
      case 2:
        expect(w, WireType.LengthDelimited);
        m.os = r.string();
        break;
      case 3:
        expect(w, WireType.Varint);
        m.screenOn = r.bool();
        break;
      case 4:
        expect(w, WireType.Varint);
        m.foreground = r.bool();
        break;
      case 5:
        expect(w, WireType.Varint);
        m.touch = r.bool();
        break;
      case 6:
        expect(w, WireType.LengthDelimited);
        m.appId = r.string();
        break;
      case 7:
        expect(w, WireType.LengthDelimited);
        m.appVersion = r.string();
        break;
      default:
        throw new NeedsReflection();
    }
  }
  if (r.pos !== end) throw new Error("premature end of chorus.v1.Device");
  return m;
}

function readContext(r: BinaryReader, wire: WireType, into: ListeningContext | undefined): ListeningContext {
  const end = enter(r, wire, "chorus.v1.ListeningContext");
  const m =
    into ??
    ({
      $typeName: "chorus.v1.ListeningContext",
      sessionId: "",
      contentKind: 0,
      contentId: "",
      genre: "",
      moodTags: [],
      positionMs: 0,
      contentDurationMs: 0,
      recentSkips: 0,
      sessionLengthMs: 0,
      chapterMarkersMs: [],
      silenceMarkersMs: [],
    } as ListeningContext);
  while (r.pos < end) {
    const [field, w] = r.tag();
    switch (field) {
      case 1:
        expect(w, WireType.LengthDelimited);
        m.sessionId = r.string();
        break;
      case 2:
        expect(w, WireType.Varint);
        m.contentKind = r.int32();
        break;
      case 3:
        expect(w, WireType.LengthDelimited);
        m.contentId = r.string();
        break;
      case 4:
        expect(w, WireType.LengthDelimited);
        m.genre = r.string();
        break;
      case 5:
        expect(w, WireType.LengthDelimited);
        m.moodTags.push(r.string());
        break;
      case 6:
        expect(w, WireType.Varint);
        m.positionMs = r.uint32();
        break;
      case 7:
        expect(w, WireType.Varint);
        m.contentDurationMs = r.uint32();
        break;
      case 8:
        expect(w, WireType.Varint);
        m.recentSkips = r.uint32();
        break;
      case 9:
        expect(w, WireType.Varint);
        m.sessionLengthMs = r.uint32();
        break;
      case 10:
        readRepeated(r, w, m.chapterMarkersMs, readUint32);
        break;
      case 11:
        readRepeated(r, w, m.silenceMarkersMs, readUint32);
        break;
      default:
        throw new NeedsReflection();
    }
  }
  if (r.pos !== end) throw new Error("premature end of chorus.v1.ListeningContext");
  return m;
}

const readInt32 = (r: BinaryReader) => r.int32();
const readUint32 = (r: BinaryReader) => r.uint32();

/** A repeated varint field, packed (one length-delimited run) or one value per tag, as fromBinary accepts both. */
function readRepeated(r: BinaryReader, wire: WireType, into: number[], read: (r: BinaryReader) => number): void {
  if (wire === WireType.Varint) {
    into.push(read(r));
    return;
  }
  const end = enter(r, wire, "packed field");
  while (r.pos < end) into.push(read(r));
}
