import type { AgentVote } from "../../gen/chorus/v1/agent_pb.ts";
import type { VoteContext } from "../contract/agent-module.ts";
import { newVote } from "../scoring/agent-scoring.ts";
import { BASE_RELEVANCE_WEIGHT, BASE_WEIGHTS, type OrchestratorState } from "./state.ts";

/** A degraded agent (late, down, stale) counts this much less: its fallback vote is a guess. */
export const DEGRADED_WEIGHT_FACTOR = 0.5;

/** The Orchestrator's vote: the current voting weights (it scores no candidate). */
export function voteOrchestrator(_ctx: VoteContext, state: OrchestratorState): AgentVote {
  const vote = newVote();
  vote.confidence = 1;
  vote.weights = { ...state.weights };
  vote.relevanceWeight = state.relevanceWeight;
  return vote;
}

/**
 * The weights fed to the kernel, one per agent in `agents` order: the orchestrator's weight, times
 * DEGRADED_WEIGHT_FACTOR for a degraded agent. With confidence this is the weighted vote that resolves trade-offs.
 */
/** The weights the kernel applies: one per voting agent in row order, and the relevance term's. */
export interface KernelWeights {
  weights: Float32Array;
  relevanceWeight: number;
}

export function kernelWeights(
  orchestrator: AgentVote | undefined,
  agents: readonly string[],
  degraded: ReadonlySet<string>,
): KernelWeights {
  const from = orchestrator?.weights ?? {};
  const weights = Float32Array.from(agents, (a) => {
    const w = from[a] ?? BASE_WEIGHTS[a as keyof typeof BASE_WEIGHTS] ?? 0;
    return degraded.has(a) ? w * DEGRADED_WEIGHT_FACTOR : w;
  });
  return { weights, relevanceWeight: orchestrator?.relevanceWeight || BASE_RELEVANCE_WEIGHT };
}
