import { create } from "@bufbuild/protobuf";
import { type AgentVote, AgentVoteSchema } from "../../gen/chorus/v1/agent_pb.ts";
import type { VoteContext } from "../runtime/agent-module.ts";
import { adviseBreak, type PlaybackPoint, playbackPosition } from "./advise-break.ts";
import type { TimingState } from "./state.ts";

/**
 * Timing's vote: the advice for this break, and a score per candidate that prefers short ads when the break is
 * intrusive (a long ad mid-content hurts more). The request's context wins over the session state the agent
 * tracked from playback signals (it is newer); the tracked state fills what the request leaves out.
 */
export function voteTiming(ctx: VoteContext, state: TimingState): AgentVote {
  const { request, nowMs } = ctx;
  const c = request.context;
  const session = c?.sessionId ? state.sessions.get(c.sessionId) : undefined;
  const fromRequest = c !== undefined && (c.contentDurationMs > 0 || c.positionMs > 0);
  const point: PlaybackPoint = fromRequest
    ? {
        positionMs: c.positionMs,
        durationMs: c.contentDurationMs,
        contentKind: c.contentKind,
        chapterMarkersMs: [...c.chapterMarkersMs].sort((a, b) => a - b),
        silenceMarkersMs: [...c.silenceMarkersMs].sort((a, b) => a - b),
        paused: false,
        justSkipped: false,
      }
    : session
      ? {
          positionMs: playbackPosition(session, nowMs),
          durationMs: session.contentDurationMs,
          contentKind: session.contentKind,
          chapterMarkersMs: session.chapterMarkersMs,
          silenceMarkersMs: session.silenceMarkersMs,
          paused: session.paused,
          justSkipped: false,
        }
      : {
          positionMs: 0,
          durationMs: 0,
          contentKind: 0,
          chapterMarkersMs: [],
          silenceMarkersMs: [],
          paused: false,
          justSkipped: false,
        };
  const placement = request.placement;
  const timing = adviseBreak(point, { breakKind: placement?.breakKind ?? 2, forceNow: placement?.forceNow ?? false });
  const maxMs = placement?.maxDurationMs || 1;
  const scores = ctx.inventory.candidates.map((cand) =>
    Math.max(0, 1 - timing.intrusiveness * Math.min(1, cand.creative.durationMs / maxMs)),
  );
  return create(AgentVoteSchema, { confidence: fromRequest || session ? 0.8 : 0.3, scores, timing });
}
