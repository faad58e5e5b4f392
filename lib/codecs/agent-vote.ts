import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import {
  type AgentVote,
  AgentVoteSchema,
  type CandidateVeto,
  CandidateVetoSchema,
  TimingAdviceSchema,
} from "../../gen/chorus/v1/agent_pb.ts";
import { cachedUtf8 } from "./wire/cached-utf8.ts";
import { FlatWriter } from "./wire/flat-writer.ts";
import { readFloats, writePackedFloats } from "./wire/packed-floats.ts";

const LD = WireType.LengthDelimited;
const VARINT = WireType.Varint;

/**
 * AgentVote in its wire encoding, written field by field: every agent answers every parallel decision with up to
 * four per-candidate float arrays, and the reflective toBinary writes packed floats one DataView call at a time
 * (it was most of an agent's CPU per task). The bytes are toBinary's (proto3 implicit presence, fields in number
 * order), checked by agent-vote-codec.spec.ts; a field added to AgentVote must be added here too (the spec fails
 * until it is).
 */
export function encodeAgentVote(v: AgentVote): Uint8Array {
  const w = new FlatWriter();
  if (v.agent) w.tag(1, LD).bytes(cachedUtf8(v.agent));
  if (v.runId) w.tag(2, LD).string(v.runId);
  if (v.inventoryVersion !== 0n) w.tag(3, VARINT).uint64(v.inventoryVersion);
  if (isSet(v.confidence)) w.tag(4, WireType.Bit32).float(v.confidence);
  writePackedFloats(w, 5, v.scores);
  for (const veto of v.vetoes) {
    w.tag(6, LD).fork();
    if (veto.candidate !== 0) w.tag(1, VARINT).uint32(veto.candidate);
    if (veto.reason !== 0) w.tag(2, VARINT).int32(veto.reason);
    if (veto.detail) w.tag(3, LD).bytes(cachedUtf8(veto.detail));
    w.join();
  }
  writePackedFloats(w, 7, v.intentVector);
  writePackedFloats(w, 8, v.bidsMicros);
  writePackedFloats(w, 9, v.predictedResponse);
  if (v.formats.length > 0) {
    w.tag(10, LD).fork();
    for (const f of v.formats) w.uint32(f);
    w.join();
  }
  if (v.timing) w.tag(11, LD).bytes(toBinary(TimingAdviceSchema, v.timing));
  if (v.stateRevision !== 0n) w.tag(12, VARINT).uint64(v.stateRevision);
  if (v.moduleVersion) w.tag(13, LD).bytes(cachedUtf8(v.moduleVersion));
  if (v.computeUs !== 0) w.tag(14, VARINT).uint32(v.computeUs);
  for (const [key, value] of Object.entries(v.weights)) {
    // Map entries carry key and value even when zero, as toBinary writes them.
    w.tag(15, LD).fork().tag(1, LD).bytes(cachedUtf8(key)).tag(2, WireType.Bit32).float(value).join();
  }
  if (isSet(v.relevanceWeight)) w.tag(16, WireType.Bit32).float(v.relevanceWeight);
  return w.finish();
}

/**
 * The inverse, with the same shortcuts: packed floats are copied out of the buffer in one go, vetoes are built
 * without reflection. Unknown fields are skipped (a newer agent may send more); anything malformed throws, as
 * fromBinary does. Equivalence with fromBinary is checked by agent-vote-codec.spec.ts.
 */
export function decodeAgentVote(bytes: Uint8Array): AgentVote {
  const v = create(AgentVoteSchema);
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    switch (field) {
      case 1:
        v.agent = r.string();
        break;
      case 2:
        v.runId = r.string();
        break;
      case 3:
        v.inventoryVersion = BigInt(r.uint64());
        break;
      case 4:
        v.confidence = r.float();
        break;
      case 5:
        readFloats(r, wire, v.scores);
        break;
      case 6:
        v.vetoes.push(readVeto(r.bytes()));
        break;
      case 7:
        readFloats(r, wire, v.intentVector);
        break;
      case 8:
        readFloats(r, wire, v.bidsMicros);
        break;
      case 9:
        readFloats(r, wire, v.predictedResponse);
        break;
      case 10:
        if (wire === LD) {
          const end = r.uint32() + r.pos;
          while (r.pos < end) v.formats.push(r.uint32());
        } else v.formats.push(r.uint32());
        break;
      case 11:
        v.timing = fromBinary(TimingAdviceSchema, r.bytes());
        break;
      case 12:
        v.stateRevision = BigInt(r.uint64());
        break;
      case 13:
        v.moduleVersion = r.string();
        break;
      case 14:
        v.computeUs = r.uint32();
        break;
      case 15: {
        const entry = new BinaryReader(r.bytes());
        let key = "";
        let value = 0;
        while (entry.pos < entry.len) {
          const [f, t] = entry.tag();
          if (f === 1) key = entry.string();
          else if (f === 2) value = entry.float();
          else entry.skip(t, f);
        }
        v.weights[key] = value;
        break;
      }
      case 16:
        v.relevanceWeight = r.float();
        break;
      default:
        r.skip(wire, field);
    }
  }
  return v;
}

/** proto3 implicit presence as protobuf-es applies it to floats: -0 is set (it is not the default bit pattern). */
function isSet(value: number): boolean {
  return value !== 0 || Object.is(value, -0);
}

function readVeto(bytes: Uint8Array): CandidateVeto {
  const veto = create(CandidateVetoSchema);
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1) veto.candidate = r.uint32();
    else if (field === 2) veto.reason = r.int32();
    else if (field === 3) veto.detail = r.string();
    else r.skip(wire, field);
  }
  return veto;
}
