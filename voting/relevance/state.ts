import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { AuctionOutcome } from "../../gen/chorus/v1/agent_pb.ts";
import { type RelevanceSignal, RelevanceSignalSchema } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { Goal } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdEventType } from "../../gen/chorus/v1/decision_pb.ts";
import type { LedgerEntry } from "../../gen/chorus/v1/ledger_pb.ts";
import { trimToCap } from "../../lib/collections/lru.ts";
import { GLOBAL_KEY, type HandlerContext } from "../contract/agent-module.ts";
import { stateLimits } from "../limits/state-limits.ts";
import { createFtrlModel, type FtrlModel, train } from "./ftrl-model.ts";
import { MODEL_SIZE, priorLogit, responseFeatures } from "./relevance-features.ts";

interface Exposure {
  slots: number[];
  goal: Goal;
  at: number;
}

/** The response model plus the features of recent winners, so that later events can be learned from. */
export interface RelevanceState {
  model: FtrlModel;
  examples: bigint;
  positives: bigint;
  /** `${decisionId}/${creativeId}` -> features at decision time; bounded, oldest first out. */
  readonly exposures: Map<string, Exposure>;
}

export function createRelevanceState(): RelevanceState {
  return { model: createFtrlModel(MODEL_SIZE), examples: 0n, positives: 0n, exposures: new Map() };
}

/** Remembers the winners' features (not part of the snapshot: an event older than a restart is not learned). */
export function applyOutcome(state: RelevanceState, outcome: AuctionOutcome, ctx: HandlerContext): undefined {
  const inventory = ctx.inventory();
  if (!outcome.request) return;
  const at = outcome.decidedAt ? timestampMs(outcome.decidedAt) : ctx.nowMs;
  for (const entry of outcome.entries) {
    if (!entry.won) continue;
    const candidate = inventory.byCreativeId(entry.creativeId);
    if (!candidate) continue;
    state.exposures.set(`${outcome.decisionId}/${entry.creativeId}`, {
      slots: responseFeatures(outcome.request, candidate, at),
      goal: candidate.campaign.goal,
      at,
    });
  }
  trimToCap(state.exposures, stateLimits().maxPendingAds);
}

/** The event that counts as the response for each goal. */
function isResponse(goal: Goal, type: AdEventType): boolean {
  if (goal === Goal.CLICKS) return type === AdEventType.CLICK;
  if (goal === Goal.CONVERSIONS) return type === AdEventType.CONVERSION;
  return type === AdEventType.COMPLETE;
}

/**
 * Learns from accepted events. An impression is first learned as a negative; its response (click, complete,
 * conversion, by goal) later as a positive ("fake negative" training: the estimate is then a monotone function of
 * the true rate, exact enough for ranking, and no label has to wait for a window to close).
 */
export function applyEvent(state: RelevanceState, entry: LedgerEntry): string[] {
  const event = entry.event;
  if (!event) return [];
  const exposure = state.exposures.get(`${event.decisionId}/${event.creativeId}`);
  if (!exposure || exposure.goal === Goal.IMPRESSIONS) return [];
  const offset = priorLogit(exposure.goal);
  if (event.type === AdEventType.IMPRESSION) train(state.model, exposure.slots, 0, offset);
  else if (isResponse(exposure.goal, event.type)) {
    train(state.model, exposure.slots, 1, offset);
    state.positives++;
  } else return [];
  state.examples++;
  return [GLOBAL_KEY];
}

export function snapshotRelevance(state: RelevanceState): RelevanceSignal {
  return create(RelevanceSignalSchema, {
    size: MODEL_SIZE,
    z: [...state.model.z],
    n: [...state.model.n],
    examples: state.examples,
    positives: state.positives,
  });
}

export function restoreRelevance(state: RelevanceState, _key: string, signal: RelevanceSignal): void {
  if (signal.size !== MODEL_SIZE || signal.z.length !== MODEL_SIZE || signal.n.length !== MODEL_SIZE) return;
  state.model = { z: Float32Array.from(signal.z), n: Float32Array.from(signal.n) };
  state.examples = signal.examples;
  state.positives = signal.positives;
}
