/**
 * The agents whose numeric scoring runs in a hot-swappable WASM module, with their scoring split
 * (agent-scoring.ts), and the module name each rolls out under (`agent-<name>` in the module registry).
 */
import type { ScoringAgent } from "../../wasm-core/src/agent-scoring-abi.ts";
import { biddingScoring } from "../bidding/vote.ts";
import { budgetScoring } from "../budget/vote.ts";
import { creativeScoring } from "../creative/vote.ts";
import { intentScoring } from "../intent/vote.ts";
import { relevanceScoring } from "../relevance/vote.ts";
import type { AgentScoring } from "../scoring/agent-scoring.ts";
import { timingScoring } from "../timing/vote.ts";

// biome-ignore lint/suspicious/noExplicitAny: each scoring has its own state and carry types; callers pass them back.
export type AnyAgentScoring = AgentScoring<any, any>;

export const AGENT_SCORINGS: Readonly<Record<ScoringAgent, AnyAgentScoring>> = {
  intent: intentScoring,
  relevance: relevanceScoring,
  bidding: biddingScoring,
  creative: creativeScoring,
  timing: timingScoring,
  budget: budgetScoring,
};

export const AGENT_MODULE_PREFIX = "agent-";

/** The module registry name of an agent's scoring module: "agent-relevance". */
export function agentModuleName(agent: string): string {
  return `${AGENT_MODULE_PREFIX}${agent}`;
}
