import type { AgentName } from "../lib/subjects.ts";
import type { AnyAgentModule } from "./runtime/agent-module.ts";

/**
 * Every agent module by name, loaded on demand (a host running only Timing does not load the Relevance model).
 * The Budget agent registers here when agents/budget/agent.ts exports `budgetAgent`.
 */
export const agentLoaders: Partial<Record<AgentName, () => Promise<AnyAgentModule>>> = {
  intent: () => import("./intent/agent.ts").then((m) => m.intentAgent),
  relevance: () => import("./relevance/agent.ts").then((m) => m.relevanceAgent),
  bidding: () => import("./bidding/agent.ts").then((m) => m.biddingAgent),
  creative: () => import("./creative/agent.ts").then((m) => m.creativeAgent),
  timing: () => import("./timing/agent.ts").then((m) => m.timingAgent),
  orchestrator: () => import("./orchestrator/agent.ts").then((m) => m.orchestratorAgent),
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
