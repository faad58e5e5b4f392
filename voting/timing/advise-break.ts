import { create } from "@bufbuild/protobuf";
import { type TimingAdvice, TimingAdviceSchema } from "../../gen/chorus/v1/agent_pb.ts";
import type { SessionPlayback } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { BreakKind, ContentKind } from "../../gen/chorus/v1/common_pb.ts";

/** Where the listener is. */
export interface PlaybackPoint {
  positionMs: number;
  /** 0 = unknown or between contents. */
  durationMs: number;
  contentKind: ContentKind;
  chapterMarkersMs: readonly number[];
  silenceMarkersMs: readonly number[];
  paused: boolean;
  /** A skip or a new track just happened: the listener is between contents. */
  justSkipped: boolean;
}

/** How intrusive each kind of insertion point is (0 = invisible, 1 = cuts into content). */
export const INTRUSIVENESS = {
  betweenContents: 0,
  paused: 0.1,
  trackEnd: 0.05,
  chapter: 0.15,
  silence: 0.3,
  midContent: 1,
} as const;

/** A break this close ahead is "now" (the client starts the pod at the offset). */
const LOOKAHEAD_MS = 20_000;
/** The first seconds of a content are as good as before it: the listener has barely started. */
const START_GRACE_MS = 2_000;

/**
 * Whether now is a good moment for a break and the least intrusive insertion offset. Never mid-track unless the
 * placement forces it: music breaks go between tracks; podcasts and videos use chapter markers, then silences.
 */
export function adviseBreak(p: PlaybackPoint, placement: { breakKind: BreakKind; forceNow: boolean }): TimingAdvice {
  const advice = (breakNow: boolean, offset: number, intrusiveness: number, reason: string) =>
    create(TimingAdviceSchema, { breakNow, insertionOffsetMs: Math.max(0, Math.round(offset)), intrusiveness, reason });
  const { positionMs: pos, durationMs: dur } = p;
  if (placement.breakKind === BreakKind.PRE_ROLL) return advice(true, 0, 0, "pre-roll: before the content");
  if (placement.breakKind === BreakKind.POST_ROLL) return advice(true, dur, 0, "post-roll: after the content");
  const between = dur === 0 || pos >= dur || pos <= START_GRACE_MS || p.justSkipped;
  if (between) return advice(true, pos, INTRUSIVENESS.betweenContents, "between contents");
  if (placement.forceNow)
    return advice(true, pos, INTRUSIVENESS.midContent, "placement forces the break now, mid-content");
  if (p.paused) return advice(true, pos, INTRUSIVENESS.paused, "playback paused");
  const options: { at: number; intrusiveness: number; what: string }[] = [
    { at: dur, intrusiveness: INTRUSIVENESS.trackEnd, what: "end of the content" },
  ];
  // Music has no chapters: only the track end. Spoken content and video break at chapters, then silences.
  if (p.contentKind !== ContentKind.MUSIC) {
    for (const at of p.chapterMarkersMs)
      if (at >= pos) options.push({ at, intrusiveness: INTRUSIVENESS.chapter, what: "chapter marker" });
    for (const at of p.silenceMarkersMs)
      if (at >= pos) options.push({ at, intrusiveness: INTRUSIVENESS.silence, what: "silence" });
  }
  const soon = options.filter((o) => o.at - pos <= LOOKAHEAD_MS);
  // Least intrusive among the near ones; the nearest on ties.
  const pick = (xs: typeof options) =>
    xs.reduce((best, o) =>
      o.intrusiveness < best.intrusiveness || (o.intrusiveness === best.intrusiveness && o.at < best.at) ? o : best,
    );
  if (soon.length > 0) {
    const o = pick(soon);
    return advice(true, o.at, o.intrusiveness, `${o.what} in ${Math.round((o.at - pos) / 1000)} s`);
  }
  const next = options.reduce((a, b) => (b.at < a.at ? b : a));
  return advice(
    false,
    next.at,
    INTRUSIVENESS.midContent,
    `mid-content: next ${next.what} in ${Math.round((next.at - pos) / 1000)} s`,
  );
}

/** Where a session is now: a playing session advances with wall time. */
export function playbackPosition(s: SessionPlayback, nowMs: number): number {
  const elapsed = s.paused ? 0 : Math.max(0, nowMs - Number(s.positionAtMs));
  const pos = s.positionMs + elapsed;
  return s.contentDurationMs > 0 ? Math.min(pos, s.contentDurationMs) : pos;
}
