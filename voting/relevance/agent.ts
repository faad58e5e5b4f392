import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { RelevanceSignalSchema } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { subjects } from "../../lib/subjects.ts";
import { type AgentModule, agentInput } from "../contract/agent-module.ts";
import {
  applyEvent,
  applyOutcome,
  createRelevanceState,
  type RelevanceState,
  restoreRelevance,
  snapshotRelevance,
} from "./state.ts";
import { voteRelevance } from "./vote.ts";

/** Relevance: an online logistic regression (FTRL-Proximal) of response per candidate, shortlisting the top K. */
export const relevanceAgent: AgentModule<RelevanceState, typeof RelevanceSignalSchema> = {
  name: "relevance",
  version: "1.0.0",
  description:
    "Predicted response per candidate (FTRL-Proximal logistic regression learning from clicks and completes)",
  keySpace: "global",
  signalSchema: RelevanceSignalSchema,
  createState: createRelevanceState,
  snapshot: snapshotRelevance,
  restore: restoreRelevance,
  vote: voteRelevance,
  // Its state changes with every auction but its votes drift slowly: a quarter second of lag costs nothing.
  signalIntervalMs: 250,
  inputs: [
    agentInput({ subject: subjects.auctionOutcomes, schema: AuctionOutcomeSchema, handle: applyOutcome }),
    agentInput({ subject: subjects.acceptedEventsAll, schema: LedgerEntrySchema, handle: (s, m) => applyEvent(s, m) }),
  ],
};
