import { TimingSignalSchema } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { PlaybackSignalSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { subjects } from "../../lib/subjects.ts";
import { type AgentModule, agentInput } from "../contract/agent-module.ts";
import {
  applyPlayback,
  createTimingState,
  forgetListeners,
  pruneSessions,
  restoreTiming,
  snapshotTiming,
  type TimingState,
} from "./state.ts";
import { voteTiming } from "./vote.ts";

/** Timing: is now a good break, and the least intrusive insertion offset, from playback signals. */
export const timingAgent: AgentModule<TimingState, typeof TimingSignalSchema> = {
  name: "timing",
  version: "1.0.0",
  description: "Break moment and least intrusive insertion offset from playback signals",
  keySpace: "user-shards",
  signalSchema: TimingSignalSchema,
  createState: () => createTimingState(),
  snapshot: snapshotTiming,
  restore: restoreTiming,
  vote: voteTiming,
  inputs: [
    agentInput({
      subject: subjects.playbackShard,
      schema: PlaybackSignalSchema,
      handle: (s, m, ctx) => applyPlayback(s, m, ctx.nowMs),
    }),
  ],
  tick: pruneSessions,
  forget: forgetListeners,
};
