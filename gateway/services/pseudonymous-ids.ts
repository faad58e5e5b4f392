import { toBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { UserSchema } from "../../gen/chorus/v1/common_pb.ts";
import { type DecideRequest, ListeningContextSchema, type PlaybackSignal } from "../../gen/chorus/v1/decision_pb.ts";
import { rememberWireBytes, wireBytesOf } from "../../lib/codecs/wire/wire-bytes.ts";
import type { Pseudonyms } from "../../lib/privacy/pseudonyms.ts";

/** DecideRequest's field numbers of `user` and `context` (proto/chorus/v1/decision.proto). */
const USER_FIELD = 3;
const CONTEXT_FIELD = 5;

/**
 * Replaces a request's user and session ids by their pseudonyms, in place, as the first thing the gateway does with
 * it: votes, tasks, receipts, outcomes and the decision log all see pseudonyms only. Without measurement consent
 * the user is known by a per-session pseudonym (no profile or cap history outlives the session). The client's wire
 * bytes, which the AuctionOutcome embeds, are rewritten alike: only the two small sub-messages are encoded again.
 */
export function pseudonymizeRequest(request: DecideRequest, pseudonyms: Pseudonyms): void {
  const bytes = wireBytesOf(request);
  const user = request.user;
  const context = request.context;
  if (user)
    user.userId = pseudonyms.listener(user.userId, context?.sessionId ?? "", user.consent?.measurement ?? false);
  if (context) context.sessionId = pseudonyms.session(context.sessionId);
  if (!bytes) return;
  const replaced = new Map<number, Uint8Array>();
  if (user) replaced.set(USER_FIELD, toBinary(UserSchema, user));
  if (context) replaced.set(CONTEXT_FIELD, toBinary(ListeningContextSchema, context));
  rememberWireBytes(request, replaceFields(bytes, replaced));
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
