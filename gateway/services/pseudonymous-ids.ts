import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { DecideRequest, PlaybackSignal } from "../../gen/chorus/v1/decision_pb.ts";
import { rememberWireBytes, wireBytesOf } from "../../lib/codecs/wire/wire-bytes.ts";
import type { Pseudonyms } from "../../lib/privacy/pseudonyms.ts";

/** DecideRequest's field numbers of `user` and `context` (proto/chorus/v1/decision.proto). */
const USER_FIELD = 3;
const CONTEXT_FIELD = 5;
/** User.user_id (common.proto) and ListeningContext.session_id (decision.proto). */
const USER_ID_FIELD = 1;
const SESSION_ID_FIELD = 1;
const utf8 = new TextEncoder();

/**
 * Replaces a request's user and session ids by their pseudonyms, in place, as the first thing the gateway does with
 * it: votes, tasks, receipts, outcomes and the decision log all see pseudonyms only. Without measurement consent
 * the user is known by a per-session pseudonym (no profile or cap history outlives the session). The client's wire
 * bytes, which the AuctionOutcome embeds, are rewritten alike: only the two id strings are patched in.
 */
export function pseudonymizeRequest(request: DecideRequest, pseudonyms: Pseudonyms): void {
  const bytes = wireBytesOf(request);
  const user = request.user;
  const context = request.context;
  if (user)
    user.userId = pseudonyms.listener(user.userId, context?.sessionId ?? "", user.consent?.measurement ?? false);
  if (context) context.sessionId = pseudonyms.session(context.sessionId);
  if (!bytes) return;
  // Only the two id strings change: they are patched into the sub-messages' own bytes (toBinary by reflection of
  // the two sub-messages cost ~80 us per decision). Every occurrence of a sub-message is merged first, as a decoder
  // merges them, so the one copy written holds what the decoded message holds.
  const replaced = new Map<number, Uint8Array>();
  if (user) replaced.set(USER_FIELD, withString(occurrences(bytes, USER_FIELD), USER_ID_FIELD, user.userId));
  if (context)
    replaced.set(CONTEXT_FIELD, withString(occurrences(bytes, CONTEXT_FIELD), SESSION_ID_FIELD, context.sessionId));
  rememberWireBytes(request, replaceFields(bytes, replaced));
}

/** The payloads of every occurrence of a length-delimited field, concatenated (for a sub-message: their merge). */
function occurrences(bytes: Uint8Array, field: number): Uint8Array {
  const reader = new BinaryReader(bytes);
  const parts: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === field && wireType === WireType.LengthDelimited) parts.push(reader.bytes());
    else reader.skip(wireType, fieldNo);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** A message's bytes with string field `field` set to `value` (proto3: an empty string is not written). */
function withString(message: Uint8Array, field: number, value: string): Uint8Array {
  const reader = new BinaryReader(message);
  const writer = new BinaryWriter();
  let written = value === "";
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const [fieldNo, wireType] = reader.tag();
    reader.skip(wireType, fieldNo);
    if (fieldNo !== field) writer.raw(message.subarray(start, reader.pos));
    else if (!written) {
      writer.tag(field, WireType.LengthDelimited).bytes(utf8.encode(value));
      written = true;
    }
  }
  if (!written) writer.tag(field, WireType.LengthDelimited).bytes(utf8.encode(value));
  return writer.finish();
}

/** The same for a playback signal (a fresh copy: the caller's message is left as it is). */
export function pseudonymousSignal(signal: PlaybackSignal, pseudonyms: Pseudonyms): PlaybackSignal {
  return {
    ...signal,
    userId: pseudonyms.listener(signal.userId, signal.sessionId, signal.consent?.measurement ?? false),
    sessionId: pseudonyms.session(signal.sessionId),
  };
}

/**
 * `bytes` with every occurrence of the given length-delimited fields replaced by one copy of the new value, written
 * where the first occurrence was; every other field is copied as it is.
 */
export function replaceFields(bytes: Uint8Array, replaced: ReadonlyMap<number, Uint8Array>): Uint8Array {
  const reader = new BinaryReader(bytes);
  const writer = new BinaryWriter();
  const written = new Set<number>();
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const [fieldNo, wireType] = reader.tag();
    reader.skip(wireType, fieldNo);
    const value = replaced.get(fieldNo);
    if (value === undefined || wireType !== WireType.LengthDelimited) {
      writer.raw(bytes.subarray(start, reader.pos));
      continue;
    }
    if (written.has(fieldNo)) continue;
    written.add(fieldNo);
    writer.tag(fieldNo, WireType.LengthDelimited).bytes(value);
  }
  for (const [fieldNo, value] of replaced)
    if (!written.has(fieldNo)) writer.tag(fieldNo, WireType.LengthDelimited).bytes(value);
  return writer.finish();
}
