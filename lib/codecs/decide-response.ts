import { toBinary } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import type { TrackingUrls } from "../../gen/chorus/v1/common_pb.ts";
import {
  type DecideResponse,
  type DegradedAgent,
  ExplanationSchema,
  type ModuleVersion,
  type PodAd,
} from "../../gen/chorus/v1/decision_pb.ts";
import { cachedUtf8 } from "./wire/cached-utf8.ts";
import { FlatWriter } from "./wire/flat-writer.ts";

const LD = WireType.LengthDelimited;
const VARINT = WireType.Varint;

/**
 * DecideResponse in its wire encoding, written field by field: the reflective toBinary was ~75 us of every
 * decision (mostly the pod's ads and their tracking URLs). The bytes are toBinary's (proto3 implicit presence:
 * zero values left out, fields in number order), checked by decide-response.spec.ts; a field added to
 * these messages must be added here too (the spec fails until it is). The explanation, asked for by debugging
 * clients only, keeps toBinary.
 */
export function encodeDecideResponse(r: DecideResponse): Uint8Array {
  const w = new FlatWriter();
  if (r.decisionId) w.tag(1, LD).string(r.decisionId);
  for (const ad of r.ads) writePodAd(w.tag(2, LD).fork(), ad).join();
  for (const d of r.degradedAgents) writeDegraded(w.tag(3, LD).fork(), d).join();
  for (const m of r.moduleVersions) writeModuleVersion(w.tag(4, LD).fork(), m).join();
  if (r.explanation) w.tag(5, LD).bytes(toBinary(ExplanationSchema, r.explanation));
  if (r.noFillReason !== 0) w.tag(6, VARINT).int32(r.noFillReason);
  if (r.coordination) w.tag(7, LD).bytes(cachedUtf8(r.coordination));
  if (r.nextBreakOffsetMs !== 0) w.tag(8, VARINT).uint32(r.nextBreakOffsetMs);
  return w.finish();
}

function writePodAd(w: FlatWriter, a: PodAd): FlatWriter {
  if (a.sequence !== 0) w.tag(1, VARINT).uint32(a.sequence);
  // Ids, URLs and categories come from the catalog and repeat across decisions.
  if (a.creativeId) w.tag(2, LD).bytes(cachedUtf8(a.creativeId));
  if (a.campaignId) w.tag(3, LD).bytes(cachedUtf8(a.campaignId));
  if (a.advertiserId) w.tag(4, LD).bytes(cachedUtf8(a.advertiserId));
  if (a.priceMicros !== 0n) w.tag(5, VARINT).int64(a.priceMicros);
  if (a.format !== 0) w.tag(6, VARINT).int32(a.format);
  if (a.durationMs !== 0) w.tag(7, VARINT).uint32(a.durationMs);
  if (a.insertionOffsetMs !== 0) w.tag(8, VARINT).uint32(a.insertionOffsetMs);
  if (a.mediaUrl) w.tag(9, LD).bytes(cachedUtf8(a.mediaUrl));
  if (a.clickUrl) w.tag(10, LD).bytes(cachedUtf8(a.clickUrl));
  if (a.tracking) writeTracking(w.tag(11, LD).fork(), a.tracking).join();
  if (a.iabCategory) w.tag(12, LD).bytes(cachedUtf8(a.iabCategory));
  if (a.eventToken) w.tag(13, LD).string(a.eventToken);
  return w;
}

// Tracking URLs carry the ad's event token, so they differ per decision: not worth caching.
function writeTracking(w: FlatWriter, t: TrackingUrls): FlatWriter {
  const lists = [t.impression, t.start, t.firstQuartile, t.midpoint, t.thirdQuartile, t.complete, t.skip, t.click];
  for (let field = 0; field < lists.length; field++) for (const url of lists[field]!) w.tag(field + 1, LD).string(url);
  return w;
}

function writeDegraded(w: FlatWriter, d: DegradedAgent): FlatWriter {
  if (d.agent) w.tag(1, LD).bytes(cachedUtf8(d.agent));
  if (d.reason !== 0) w.tag(2, VARINT).int32(d.reason);
  if (d.fallback !== 0) w.tag(3, VARINT).int32(d.fallback);
  // -0 is not the default value (its bits differ): toBinary writes it.
  if (!Object.is(d.weight, 0)) w.tag(4, WireType.Bit32).float(d.weight);
  return w;
}

function writeModuleVersion(w: FlatWriter, m: ModuleVersion): FlatWriter {
  if (m.module) w.tag(1, LD).bytes(cachedUtf8(m.module));
  if (m.version) w.tag(2, LD).bytes(cachedUtf8(m.version));
  return w;
}
