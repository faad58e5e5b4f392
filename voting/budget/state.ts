import { create, equals } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type BudgetSignal,
  BudgetSignalSchema,
  type CampaignBudget,
  CampaignBudgetSchema,
} from "../../gen/chorus/v1/ledger_pb.ts";
import { GLOBAL_KEY } from "../contract/agent-module.ts";

/**
 * The accounting behind the Budget agent's entries (agents/budget/budget-book.ts in the agent process): the voting
 * layer only reads it through this view, so it imports nothing from the ledger or the agent process.
 */
export interface BudgetBookView {
  campaignIds(): Iterable<string>;
  status(campaignId: string, nowMs: number): CampaignBudget;
}

/**
 * What the Budget agent's vote reads: one CampaignBudget per campaign (its signal, `BudgetSignal`, key "global").
 * In the agent process `book` (the accounting, fed by the receipts and events streams) refreshes it every tick;
 * in a gateway's mirror it is restored from the published signal and `book` stays unset.
 */
export interface BudgetState {
  campaigns: Map<string, CampaignBudget>;
  book: BudgetBookView | undefined;
  atMs: number;
  revision: bigint;
}

export function createBudgetState(): BudgetState {
  return { campaigns: new Map(), book: undefined, atMs: 0, revision: 0n };
}

export function snapshotBudget(state: BudgetState): BudgetSignal {
  return create(BudgetSignalSchema, {
    // Before the first refresh there is no instant to report: an unset `at` rather than the epoch, which every
    // consumer on the bus rightly refuses as out of range.
    at: state.atMs > 0 ? timestampFromMs(state.atMs) : undefined,
    campaigns: [...state.campaigns.values()],
    revision: state.revision,
  });
}

export function restoreBudget(state: BudgetState, _key: string, signal: BudgetSignal): void {
  for (const c of signal.campaigns) state.campaigns.set(c.campaignId, c);
  state.revision = signal.revision > state.revision ? signal.revision : state.revision;
}

/**
 * How far the pace may move before it is news. A campaign that has spent sees its pace ratio (spent / planned) fall
 * a little every tick as the plan moves on, ~4e-7 a second over a 30-day flight: without this an idle mesh
 * published, stored and mirrored the Budget signal every second. 1e-4 moves a throttle probability by 4e-4 at most.
 */
const PACE_TOLERANCE = 1e-4;

/** Equal but for pace-derived values within PACE_TOLERANCE (relative to the larger of 1 and the value). */
function sameEntry(before: CampaignBudget, entry: CampaignBudget): boolean {
  const near = (a: number, b: number) => Math.abs(a - b) <= PACE_TOLERANCE * Math.max(1, Math.abs(a));
  return (
    near(before.paceRatio, entry.paceRatio) &&
    near(before.throttleProbability, entry.throttleProbability) &&
    near(before.bidMultiplier, entry.bidMultiplier) &&
    equals(CampaignBudgetSchema, before, {
      ...entry,
      paceRatio: before.paceRatio,
      throttleProbability: before.throttleProbability,
      bidMultiplier: before.bidMultiplier,
    })
  );
}

/**
 * Recomputes every campaign's entry from the books (agent process only). Only a change is a new revision (and a
 * signal): with no spend the entries stay the same tick after tick, and an idle mesh should not publish them. An
 * entry within the pace tolerance of the last one is kept as it was (so drift adds up against what was published).
 */
export function refreshBudget(state: BudgetState, nowMs: number): Iterable<string> | undefined {
  const book = state.book;
  if (!book) return undefined;
  const ids = [...book.campaignIds()];
  let changed = ids.length !== state.campaigns.size;
  const next = new Map<string, CampaignBudget>();
  for (const id of ids) {
    const entry = book.status(id, nowMs);
    const before = state.campaigns.get(id);
    if (before && sameEntry(before, entry)) next.set(id, before);
    else {
      changed = true;
      next.set(id, entry);
    }
  }
  if (!changed) return undefined;
  state.campaigns.clear();
  for (const [id, entry] of next) state.campaigns.set(id, entry);
  state.atMs = nowMs;
  state.revision++;
  return [GLOBAL_KEY];
}
