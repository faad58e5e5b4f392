import { create } from "@bufbuild/protobuf";
import type { AuctionOutcome } from "../../gen/chorus/v1/agent_pb.ts";
import { type OrchestratorSignal, OrchestratorSignalSchema } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { AdEventType } from "../../gen/chorus/v1/decision_pb.ts";
import type { LedgerEntry } from "../../gen/chorus/v1/ledger_pb.ts";
import { trimToCap } from "../../lib/collections/lru.ts";
import { VOTING_AGENTS, type VotingAgentName } from "../../lib/subjects.ts";
import { GLOBAL_KEY } from "../contract/agent-module.ts";
import { stateLimits } from "../limits/state-limits.ts";

/** Starting weights: the prior on how much each agent's scores should count in quality. */
export const BASE_WEIGHTS: Record<VotingAgentName, number> = {
  intent: 1,
  relevance: 1,
  bidding: 0.5,
  creative: 0.8,
  budget: 0.8,
  timing: 0.6,
};
export const BASE_RELEVANCE_WEIGHT = 1;
/** Bounds: each weight stays within [MIN_FACTOR, MAX_FACTOR] x its base, and at most MAX_SHARE of the total. */
export const MIN_FACTOR = 0.25;
export const MAX_FACTOR = 4;
export const MAX_SHARE = 0.4;
/** Learning rate of the multiplicative update, and the response rate at which an impression is neutral. */
const ETA = 0.05;
const NEUTRAL_RATE = 0.05;

export interface OrchestratorState {
  weights: Record<string, number>;
  relevanceWeight: number;
  updates: bigint;
  /** `${decisionId}/${creativeId}` -> each agent's share of the winner's quality. */
  readonly shares: Map<string, Map<string, number>>;
}

export function createOrchestratorState(): OrchestratorState {
  return { weights: { ...BASE_WEIGHTS }, relevanceWeight: BASE_RELEVANCE_WEIGHT, updates: 0n, shares: new Map() };
}

/** Remembers each agent's share of every winner's quality, to credit or blame it when the events come. */
export function applyOutcome(state: OrchestratorState, outcome: AuctionOutcome): undefined {
  for (const entry of outcome.entries) {
    if (!entry.won) continue;
    const positive = entry.contributions.map((c) => Math.max(0, c));
    const total = positive.reduce((s, c) => s + c, 0);
    if (total <= 0) continue;
    state.shares.set(
      `${outcome.decisionId}/${entry.creativeId}`,
      new Map(outcome.agents.map((agent, i) => [agent, positive[i]! / total])),
    );
  }
  trimToCap(state.shares, stateLimits().maxPendingAds);
}

/**
 * Multiplicative weights (Hedge): a response (click, complete, conversion) raises each agent's weight in proportion
 * to its share of the ad's quality; an impression lowers it slightly (break-even at NEUTRAL_RATE responses per
 * impression). Weights are then clamped to their bounds and to MAX_SHARE, so that no single agent dominates.
 */
export function applyEvent(state: OrchestratorState, entry: LedgerEntry): string[] {
  const event = entry.event;
  if (!event) return [];
  const shares = state.shares.get(`${event.decisionId}/${event.creativeId}`);
  if (!shares) return [];
  const response =
    event.type === AdEventType.CLICK || event.type === AdEventType.COMPLETE || event.type === AdEventType.CONVERSION;
  if (!response && event.type !== AdEventType.IMPRESSION) return [];
  const step = response ? ETA : -ETA * NEUTRAL_RATE;
  for (const [agent, share] of shares) if (agent in state.weights) state.weights[agent]! *= Math.exp(step * share);
  boundWeights(state.weights);
  state.updates++;
  return [GLOBAL_KEY];
}

export function boundWeights(weights: Record<string, number>): void {
  for (const agent of VOTING_AGENTS) {
    const base = BASE_WEIGHTS[agent];
    weights[agent] = Math.min(base * MAX_FACTOR, Math.max(base * MIN_FACTOR, weights[agent] ?? base));
  }
  // Capping one weight lowers the total, which may push another over: a few rounds settle it.
  for (let round = 0; round < VOTING_AGENTS.length; round++) {
    const total = VOTING_AGENTS.reduce((s, a) => s + weights[a]!, 0);
    const over = VOTING_AGENTS.filter((a) => weights[a]! > MAX_SHARE * total);
    if (over.length === 0) return;
    const rest = total - over.reduce((s, a) => s + weights[a]!, 0);
    // w = MAX_SHARE * (rest + k w)  =>  w = MAX_SHARE * rest / (1 - k MAX_SHARE)
    const capped = (MAX_SHARE * rest) / (1 - over.length * MAX_SHARE);
    for (const a of over) weights[a] = capped;
  }
}

export function snapshotOrchestrator(state: OrchestratorState): OrchestratorSignal {
  return create(OrchestratorSignalSchema, {
    weights: { ...state.weights },
    relevanceWeight: state.relevanceWeight,
    updates: state.updates,
  });
}

export function restoreOrchestrator(state: OrchestratorState, _key: string, signal: OrchestratorSignal): void {
  state.weights = { ...BASE_WEIGHTS, ...signal.weights };
  boundWeights(state.weights);
  state.relevanceWeight = signal.relevanceWeight || BASE_RELEVANCE_WEIGHT;
  state.updates = signal.updates;
}
