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
  rememberWireBytes(request, withIds(bytes, user?.userId, context?.sessionId));
}

/**
 * `bytes` (a DecideRequest) with user.user_id and context.session_id set to the given values (undefined: that
 * sub-message is left as it is). Only the two id strings change: they are patched into the sub-messages' own bytes
 * (toBinary by reflection of the two sub-messages cost ~80 us per decision). The usual layout, each sub-message and
 * each id once, is spliced directly; anything else goes through the general rewrite, which merges every occurrence
 * of a sub-message first, as a decoder merges them, so the one copy written holds what the decoded message holds.
 * Both give the same bytes (pseudonymous-ids.spec.ts checks it on generated requests).
 */
export function withIds(bytes: Uint8Array, userId: string | undefined, sessionId: string | undefined): Uint8Array {
  return splicedIds(bytes, userId, sessionId) ?? rewrittenIds(bytes, userId, sessionId);
}

/** The general rewrite (reader and writer of protobuf-es): any layout, merged occurrences. */
export function rewrittenIds(bytes: Uint8Array, userId: string | undefined, sessionId: string | undefined): Uint8Array {
  const replaced = new Map<number, Uint8Array>();
  if (userId !== undefined) replaced.set(USER_FIELD, withString(occurrences(bytes, USER_FIELD), USER_ID_FIELD, userId));
  if (sessionId !== undefined)
    replaced.set(CONTEXT_FIELD, withString(occurrences(bytes, CONTEXT_FIELD), SESSION_ID_FIELD, sessionId));
  return replaceFields(bytes, replaced);
}

/** A length-delimited field's place: tag start, payload start and end. */
interface Span {
  start: number;
  payload: number;
  end: number;
}

/**
 * The splice for the usual layout (what every encoder writes): each of the two sub-messages at most once, each id at
 * most once in it. Undefined for anything else (repeated occurrences, groups, another wire type on those numbers,
 * truncated bytes): the general rewrite handles those.
 */
export function splicedIds(
  bytes: Uint8Array,
  userId: string | undefined,
  sessionId: string | undefined,
): Uint8Array | undefined {
  let user: Span | undefined;
  let context: Span | undefined;
  for (let pos = 0; pos < bytes.length; ) {
    const field = lengthDelimited(bytes, pos);
    if (field === undefined) return undefined;
    if (field.number === USER_FIELD || field.number === CONTEXT_FIELD) {
      if (field.span === undefined) return undefined;
      if (field.number === USER_FIELD) {
        if (user !== undefined) return undefined;
        user = field.span;
      } else {
        if (context !== undefined) return undefined;
        context = field.span;
      }
    }
    pos = field.next;
  }
  // The general rewrite writes a sub-message that is absent at the end; rare enough to leave to it.
  if ((userId !== undefined && user === undefined) || (sessionId !== undefined && context === undefined))
    return undefined;
  const edits: Edit[] = [];
  if (userId !== undefined) {
    const edit = subMessageEdit(bytes, user!, USER_FIELD, USER_ID_FIELD, userId);
    if (edit === undefined) return undefined;
    edits.push(edit);
  }
  if (sessionId !== undefined) {
    const edit = subMessageEdit(bytes, context!, CONTEXT_FIELD, SESSION_ID_FIELD, sessionId);
    if (edit === undefined) return undefined;
    edits.push(edit);
  }
  if (edits.length === 2 && edits[0]!.span.start > edits[1]!.span.start) edits.reverse();
  let length = bytes.length;
  for (const e of edits) length += e.bytes - (e.span.end - e.span.start);
  const out = new Uint8Array(length);
  let from = 0;
  let at = 0;
  for (const e of edits) {
    out.set(bytes.subarray(from, e.span.start), at);
    at = e.write(out, at + e.span.start - from);
    from = e.span.end;
  }
  out.set(bytes.subarray(from), at);
  return out;
}

/** A sub-message field rewritten: its old span and a writer of its new bytes (tag, length, payload). */
interface Edit {
  span: Span;
  bytes: number;
  write(out: Uint8Array, at: number): number;
}

function subMessageEdit(
  bytes: Uint8Array,
  span: Span,
  field: number,
  idField: number,
  value: string,
): Edit | undefined {
  let id: Span | undefined;
  for (let pos = span.payload; pos < span.end; ) {
    const f = lengthDelimited(bytes, pos, span.end);
    if (f === undefined) return undefined;
    if (f.number === idField) {
      if (f.span === undefined || id !== undefined) return undefined;
      id = f.span;
    }
    pos = f.next;
  }
  const encoded = utf8.encode(value);
  // proto3: an empty string is not written; a new id goes where the old one was, else at the end.
  const idBytes =
    encoded.length === 0 ? 0 : varintSize((idField << 3) | 2) + varintSize(encoded.length) + encoded.length;
  const cut = id ?? { start: span.end, payload: span.end, end: span.end };
  const payload = span.end - span.payload - (cut.end - cut.start) + idBytes;
  return {
    span,
    bytes: varintSize((field << 3) | 2) + varintSize(payload) + payload,
    write(out, at) {
      at = writeVarint(out, at, (field << 3) | 2);
      at = writeVarint(out, at, payload);
      out.set(bytes.subarray(span.payload, cut.start), at);
      at += cut.start - span.payload;
      if (encoded.length > 0) {
        at = writeVarint(out, at, (idField << 3) | 2);
        at = writeVarint(out, at, encoded.length);
        out.set(encoded, at);
        at += encoded.length;
      }
      out.set(bytes.subarray(cut.end, span.end), at);
      return at + span.end - cut.end;
    },
  };
}

/**
 * The field at `pos`: its number, where the next one starts and, when it is length-delimited, its span. Undefined
 * for what the splice does not handle (groups, a tag or length past `end`, varints over 32 bits in tags and lengths).
 */
function lengthDelimited(
  bytes: Uint8Array,
  pos: number,
  end = bytes.length,
): { number: number; next: number; span: Span | undefined } | undefined {
  const tag = readVarint32(bytes, pos, end);
  if (tag === undefined) return undefined;
  const number = tag.value >>> 3;
  let next = tag.next;
  switch (tag.value & 7) {
    case 0: {
      while (next < end && bytes[next]! >= 0x80) next++;
      if (next >= end) return undefined;
      return { number, next: next + 1, span: undefined };
    }
    case 1:
      next += 8;
      break;
    case 5:
      next += 4;
      break;
    case 2: {
      const length = readVarint32(bytes, next, end);
      if (length === undefined || length.next + length.value > end) return undefined;
      const payloadEnd = length.next + length.value;
      return { number, next: payloadEnd, span: { start: pos, payload: length.next, end: payloadEnd } };
    }
    default:
      return undefined;
  }
  return next > end ? undefined : { number, next, span: undefined };
}

function readVarint32(bytes: Uint8Array, pos: number, end: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let shift = 0; shift < 32; shift += 7) {
    if (pos >= end) return undefined;
    const b = bytes[pos++]!;
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return value > 0x7fffffff ? undefined : { value, next: pos };
  }
  return undefined;
}

const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[at++] = n;
  return at;
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
