import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { OrchestratorSignalSchema } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { subjects } from "../../lib/subjects.ts";
import { type AgentModule, agentInput } from "../contract/agent-module.ts";
import {
  applyEvent,
  applyOutcome,
  createOrchestratorState,
  type OrchestratorState,
  restoreOrchestrator,
  snapshotOrchestrator,
} from "./state.ts";
import { voteOrchestrator } from "./vote.ts";

/** Orchestrator: owns the voting weights, adapting them to outcomes within bounds. */
export const orchestratorAgent: AgentModule<OrchestratorState, typeof OrchestratorSignalSchema> = {
  name: "orchestrator",
  version: "1.0.0",
  description: "Voting weights per agent, adapted to outcomes within bounds (multiplicative weights)",
  keySpace: "global",
  signalSchema: OrchestratorSignalSchema,
  createState: createOrchestratorState,
  snapshot: snapshotOrchestrator,
  restore: restoreOrchestrator,
  vote: voteOrchestrator,
  inputs: [
    agentInput({
      subject: subjects.auctionOutcomes,
      schema: AuctionOutcomeSchema,
      handle: (s, m) => applyOutcome(s, m),
    }),
    agentInput({ subject: subjects.acceptedEventsAll, schema: LedgerEntrySchema, handle: (s, m) => applyEvent(s, m) }),
  ],
};
