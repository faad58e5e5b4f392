import { IntentSignalSchema } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { AdEventType, PlaybackSignalSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { subjects } from "../../lib/subjects.ts";
import { type AgentModule, agentInput } from "../contract/agent-module.ts";
import {
  applyImpression,
  applyPlayback,
  createIntentState,
  forgetListeners,
  type IntentState,
  prune,
  restoreIntent,
  snapshotIntent,
} from "./state.ts";
import { voteIntent } from "./vote.ts";

/** Intent (targeting): listening profiles per user shard, eligibility, frequency caps, the intent vector. */
export const intentAgent: AgentModule<IntentState, typeof IntentSignalSchema> = {
  name: "intent",
  version: "1.0.0",
  description: "Listening profiles, targeting eligibility, frequency caps and the user intent vector",
  keySpace: "user-shards",
  signalSchema: IntentSignalSchema,
  createState: () => createIntentState(),
  snapshot: snapshotIntent,
  restore: restoreIntent,
  vote: voteIntent,
  inputs: [
    agentInput({
      subject: subjects.playbackShard,
      schema: PlaybackSignalSchema,
      handle: (s, m, ctx) => applyPlayback(s, m, ctx.nowMs),
    }),
    agentInput({
      subject: subjects.acceptedEvents(AdEventType[AdEventType.IMPRESSION].toLowerCase()),
      schema: LedgerEntrySchema,
      handle: (s, m, ctx) => applyImpression(s, m, ctx.owns, ctx.nowMs),
    }),
  ],
  tick: prune,
  forget: forgetListeners,
};
