import { create } from "@bufbuild/protobuf";
import {
  type SessionPlayback,
  SessionPlaybackSchema,
  type TimingSignal,
  TimingSignalSchema,
} from "../../gen/chorus/v1/agent_signals_pb.ts";
import type { PlaybackSignal } from "../../gen/chorus/v1/decision_pb.ts";
import { dropIdle, touchEntry, trimToCap } from "../../lib/collections/lru.ts";
import { userShard } from "../../lib/subjects.ts";
import { type StateLimits, stateLimits } from "../limits/state-limits.ts";
import { adviseBreak, playbackPosition } from "./advise-break.ts";

/** Playback per session, by user shard, with the advice for the next break pre-computed on every signal. */
export interface TimingState {
  /** In least-recently-used order (coldest first), at most `limits.maxSessions`. */
  readonly sessions: Map<string, SessionPlayback>;
  readonly dirty: Map<string, Set<string>>;
  readonly limits: StateLimits;
}

export function createTimingState(limits: StateLimits = stateLimits()): TimingState {
  return { sessions: new Map(), dirty: new Map(), limits };
}

/**
 * Applies one playback signal at the server's `nowMs` (when it arrived): the position is extrapolated from then
 * by the vote, on the same clock, and the idle TTL counts from then; a client's clock is never trusted for either.
 */
export function applyPlayback(state: TimingState, signal: PlaybackSignal, nowMs = Date.now()): string[] {
  const key = String(userShard(signal.userId));
  if (signal.kind.case === "sessionEnd") {
    if (state.sessions.delete(signal.sessionId)) markDirty(state, key, signal.sessionId);
    return [key];
  }
  const s =
    state.sessions.get(signal.sessionId) ??
    create(SessionPlaybackSchema, {
      sessionId: signal.sessionId,
      userId: signal.userId,
      screenOn: true,
      foreground: true,
    });
  touchEntry(state.sessions, signal.sessionId, s);
  trimToCap(state.sessions, state.limits.maxSessions, (id, dropped) => forget(state, id, dropped));
  const setPosition = (ms: number) => {
    s.positionMs = ms;
    s.positionAtMs = BigInt(nowMs);
  };
  const kind = signal.kind;
  switch (kind.case) {
    case "contentStart":
      Object.assign(s, {
        contentKind: kind.value.contentKind,
        contentDurationMs: kind.value.durationMs,
        chapterMarkersMs: [...kind.value.chapterMarkersMs].sort((a, b) => a - b),
        silenceMarkersMs: [...kind.value.silenceMarkersMs].sort((a, b) => a - b),
        paused: false,
      });
      setPosition(0);
      break;
    case "position":
    case "resume":
      s.paused = false;
      setPosition(kind.value.positionMs);
      break;
    case "pause":
      s.paused = true;
      setPosition(kind.value.positionMs);
      break;
    case "skip":
      s.recentSkips++;
      setPosition(kind.value.positionMs);
      break;
    case "screen":
      s.screenOn = kind.value.screenOn;
      s.foreground = kind.value.foreground;
      break;
    default:
      break;
  }
  s.lastSeenMs = BigInt(nowMs);
  // Pre-compute: a decide for this session's next break finds the advice ready.
  s.nextBreak = adviseBreak(
    {
      positionMs: playbackPosition(s, nowMs),
      durationMs: s.contentDurationMs,
      contentKind: s.contentKind,
      chapterMarkersMs: s.chapterMarkersMs,
      silenceMarkersMs: s.silenceMarkersMs,
      paused: s.paused,
      justSkipped: kind.case === "skip" || kind.case === "contentStart",
    },
    { breakKind: 2, forceNow: false },
  );
  markDirty(state, key, signal.sessionId);
  return [key];
}

function markDirty(state: TimingState, key: string, sessionId: string): void {
  let set = state.dirty.get(key);
  if (!set) {
    set = new Set();
    state.dirty.set(key, set);
  }
  set.add(sessionId);
}

/** A dropped session leaves the pending delta (receivers drop it at their own cap or TTL); returns its shard key. */
function forget(state: TimingState, sessionId: string, s: SessionPlayback): string {
  const key = String(userShard(s.userId));
  state.dirty.get(key)?.delete(sessionId);
  return key;
}

/** Drops sessions silent for `limits.sessionIdleMs` on the server's clock (`nowMs`). */
export function pruneSessions(state: TimingState, nowMs: number): string[] {
  const changed = new Set<string>();
  dropIdle(
    state.sessions,
    nowMs,
    state.limits.sessionIdleMs,
    (s) => Number(s.lastSeenMs),
    (id, s) => changed.add(forget(state, id, s)),
  );
  return [...changed];
}

/**
 * Erasure: drops the listeners' sessions. Each travels in the next delta as a deleted entry (no user), so mirrors
 * drop it too; returns the shard keys.
 */
export function forgetListeners(state: TimingState, pseudonyms: ReadonlySet<string>): string[] {
  const changed = new Set<string>();
  for (const [id, s] of state.sessions) {
    if (!pseudonyms.has(s.userId) && !pseudonyms.has(id)) continue;
    state.sessions.delete(id);
    const key = forget(state, id, s);
    markDirty(state, key, id);
    changed.add(key);
  }
  return [...changed];
}

export function snapshotTiming(state: TimingState, key: string, scope: "full" | "delta"): TimingSignal {
  const shard = Number(key);
  let sessions: SessionPlayback[];
  if (scope === "full") sessions = [...state.sessions.values()].filter((s) => userShard(s.userId) === shard);
  else {
    // A deleted session travels as an entry with no user: receivers drop it.
    sessions = [...(state.dirty.get(key) ?? [])].map(
      (id) => state.sessions.get(id) ?? create(SessionPlaybackSchema, { sessionId: id }),
    );
    state.dirty.delete(key);
  }
  return create(TimingSignalSchema, { shard, sessions });
}

export function restoreTiming(state: TimingState, _key: string, signal: TimingSignal): void {
  for (const s of signal.sessions) {
    if (s.userId) touchEntry(state.sessions, s.sessionId, s);
    else state.sessions.delete(s.sessionId);
  }
  trimToCap(state.sessions, state.limits.maxSessions, (id, s) => forget(state, id, s));
}
