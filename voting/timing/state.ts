import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  type SessionPlayback,
  SessionPlaybackSchema,
  type TimingSignal,
  TimingSignalSchema,
} from "../../gen/chorus/v1/agent_signals_pb.ts";
import type { PlaybackSignal } from "../../gen/chorus/v1/decision_pb.ts";
import { userShard } from "../../lib/subjects.ts";
import { adviseBreak, playbackPosition } from "./advise-break.ts";

/** Playback per session, by user shard, with the advice for the next break pre-computed on every signal. */
export interface TimingState {
  readonly sessions: Map<string, SessionPlayback>;
  readonly dirty: Map<string, Set<string>>;
}

/** Sessions silent for this long are forgotten. */
const SESSION_IDLE_MS = 2 * 3_600_000;

export function createTimingState(): TimingState {
  return { sessions: new Map(), dirty: new Map() };
}

export function applyPlayback(state: TimingState, signal: PlaybackSignal): string[] {
  const nowMs = signal.at ? timestampMs(signal.at) : Date.now();
  const key = String(userShard(signal.userId));
  let s = state.sessions.get(signal.sessionId);
  if (!s) {
    s = create(SessionPlaybackSchema, {
      sessionId: signal.sessionId,
      userId: signal.userId,
      screenOn: true,
      foreground: true,
    });
    state.sessions.set(signal.sessionId, s);
  }
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
    case "sessionEnd":
      state.sessions.delete(signal.sessionId);
      markDirty(state, key, signal.sessionId);
      return [key];
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

export function pruneSessions(state: TimingState, nowMs: number): string[] {
  const changed: string[] = [];
  for (const [id, s] of state.sessions)
    if (Number(s.lastSeenMs) < nowMs - SESSION_IDLE_MS) {
      state.sessions.delete(id);
      changed.push(String(userShard(s.userId)));
    }
  return changed;
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
    if (s.userId) state.sessions.set(s.sessionId, s);
    else state.sessions.delete(s.sessionId);
  }
}
