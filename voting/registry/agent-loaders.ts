import type { AgentName } from "../../lib/subjects.ts";
import type { AnyAgentModule } from "../contract/agent-module.ts";

/**
 * Every agent module by name, loaded on demand (a host running only Timing does not load the Relevance model).
 */
export const agentLoaders: Partial<Record<AgentName, () => Promise<AnyAgentModule>>> = {
  intent: () => import("../intent/agent.ts").then((m) => m.intentAgent),
  relevance: () => import("../relevance/agent.ts").then((m) => m.relevanceAgent),
  bidding: () => import("../bidding/agent.ts").then((m) => m.biddingAgent),
  creative: () => import("../creative/agent.ts").then((m) => m.creativeAgent),
  timing: () => import("../timing/agent.ts").then((m) => m.timingAgent),
  orchestrator: () => import("../orchestrator/agent.ts").then((m) => m.orchestratorAgent),
  // Runs in its own process (agents/budget/budget-main.ts, which also grants the spend leases); listed here so
  // that the gateway votes with its signals and asks it in parallel/sequential coordination.
  budget: () => import("../budget/agent.ts").then((m) => m.budgetAgent),
};

export async function loadAgents(names: readonly string[]): Promise<AnyAgentModule[]> {
  return Promise.all(
    names.map((name) => {
      const load = agentLoaders[name as AgentName];
      if (!load) throw new Error(`unknown agent "${name}"; known: ${Object.keys(agentLoaders).join(", ")}`);
      return load();
    }),
  );
}
