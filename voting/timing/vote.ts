import type { AgentVote, TimingAdvice } from "../../gen/chorus/v1/agent_pb.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import { createSeededRandom } from "../../lib/random/seeded-random.ts";
import { SCORING_LAYOUTS } from "../../wasm-core/src/agent-scoring-abi.ts";
import type { VoteContext } from "../contract/agent-module.ts";
import { type AgentScoring, confidenceOf, newVote, referenceVote, scoresOf } from "../scoring/agent-scoring.ts";
import { adviseBreak, type PlaybackPoint, playbackPosition } from "./advise-break.ts";
import type { TimingState } from "./state.ts";

/**
 * Timing's scoring (agent scoring ABI, wasm-core/assembly/agents/timing.ts): the advice for this break stays
 * here; the module scores each candidate from [intrusiveness, max duration, informed] and its duration,
 * preferring short ads when the break is intrusive (a long ad mid-content hurts more). The request's context
 * wins over the session state the agent tracked from playback signals (it is newer); the tracked state fills
 * what the request leaves out.
 */
export const timingScoring: AgentScoring<TimingState, TimingAdvice> = {
  agent: "timing",
  layout: SCORING_LAYOUTS.timing,
  extract(ctx, state, input) {
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
    input.context[0] = timing.intrusiveness;
    input.context[1] = placement?.maxDurationMs || 1;
    input.context[2] = fromRequest || session ? 1 : 0;
    const durations = durationsOf(ctx.inventory);
    input.features.set(durations);
    return { n: durations.length, carry: timing };
  },
  reference(n, { context, features, output }) {
    const [intrusiveness, maxMs, informed] = context as unknown as [number, number, number];
    output[0] = informed !== 0 ? 0.8 : 0.3;
    for (let c = 0; c < n; c++) output[1 + c] = Math.max(0, 1 - intrusiveness * Math.min(1, features[c]! / maxMs));
  },
  finish(_ctx, _state, timing, n, out) {
    const vote = newVote();
    vote.confidence = confidenceOf(out);
    vote.scores = scoresOf(out, n);
    vote.timing = timing;
    return vote;
  },
  goldenCases(seed) {
    const random = createSeededRandom(seed);
    return Array.from({ length: 12 }, (_, k) => {
      const n = k === 0 ? 0 : 1 + Math.floor(random() * 64);
      const context = Float64Array.of(random(), k === 1 ? 1 : 1_000 + Math.floor(random() * 120_000), k % 2);
      const features = Float64Array.from({ length: n }, () => Math.floor(random() * 90_000));
      return { n, context, features };
    });
  },
};

/** The candidates' durations (ms) in inventory order, once per inventory (immutable). */
const durationsByInventory = new WeakMap<Inventory, Float64Array>();
function durationsOf(inventory: Inventory): Float64Array {
  let durations = durationsByInventory.get(inventory);
  if (!durations) {
    durations = Float64Array.from(inventory.candidates, (c) => c.creative.durationMs);
    durationsByInventory.set(inventory, durations);
  }
  return durations;
}

/** Timing's vote: the advice for this break and a score per candidate (see timingScoring). */
export function voteTiming(ctx: VoteContext, state: TimingState): AgentVote {
  return referenceVote(timingScoring, ctx, state);
}
