import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { BiddingSignalSchema } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { subjects } from "../../lib/subjects.ts";
import { type AgentModule, agentInput } from "../contract/agent-module.ts";
import {
  applyOutcome,
  applyResponse,
  type BiddingState,
  createBiddingState,
  restoreBidding,
  snapshotBidding,
} from "./state.ts";
import { voteBidding } from "./vote.ts";

/** Bidding: a bid per candidate from predicted value and a budget-paced multiplier learned from auction outcomes. */
export const biddingAgent: AgentModule<BiddingState, typeof BiddingSignalSchema> = {
  name: "bidding",
  version: "1.0.0",
  description: "Bid per candidate: calibrated value x budget-paced multiplier learned from auction outcomes",
  keySpace: "global",
  signalSchema: BiddingSignalSchema,
  createState: () => createBiddingState(),
  snapshot: snapshotBidding,
  restore: restoreBidding,
  vote: voteBidding,
  // Its state changes with every auction but its votes drift slowly: a quarter second of lag costs nothing.
  signalIntervalMs: 250,
  inputs: [
    agentInput({ subject: subjects.auctionOutcomes, schema: AuctionOutcomeSchema, handle: applyOutcome }),
    agentInput({
      subject: subjects.acceptedEventsAll,
      schema: LedgerEntrySchema,
      handle: (s, m) => applyResponse(s, m),
    }),
  ],
};
