import { BudgetSignalSchema } from "../../gen/chorus/v1/ledger_pb.ts";
import type { AgentModule } from "../contract/agent-module.ts";
import { type BudgetState, createBudgetState, refreshBudget, restoreBudget, snapshotBudget } from "./state.ts";
import { voteBudget } from "./vote.ts";

/**
 * Budget: pacing per campaign, budget-left signals, vetoes for spent and throttled campaigns. Its books are fed
 * by JetStream consumers (budget-service.ts, which also hands out spend leases), not by core-NATS inputs: money
 * may not depend on at-most-once delivery.
 */
export const budgetAgent: AgentModule<BudgetState, typeof BudgetSignalSchema> = {
  name: "budget",
  version: "1.0.0",
  description: "Pacing and budget-left signals per campaign; vetoes spent and throttled campaigns",
  keySpace: "global",
  signalSchema: BudgetSignalSchema,
  createState: createBudgetState,
  snapshot: (state) => snapshotBudget(state),
  restore: restoreBudget,
  vote: voteBudget,
  inputs: [],
  tick: refreshBudget,
};
