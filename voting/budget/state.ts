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
 * Recomputes every campaign's entry from the books (agent process only). Only a change is a new revision (and a
 * signal): with no spend the entries stay the same tick after tick, and an idle mesh should not publish them.
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
    if (!changed && !(before && equals(CampaignBudgetSchema, before, entry))) changed = true;
    next.set(id, entry);
  }
  if (!changed) return undefined;
  state.campaigns.clear();
  for (const [id, entry] of next) state.campaigns.set(id, entry);
  state.atMs = nowMs;
  state.revision++;
  return [GLOBAL_KEY];
}
