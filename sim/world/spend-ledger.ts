/**
 * The simulator's books: what each campaign was really charged (at impression time, the truth), not what any
 * strategy believes. Billable spend never exceeds the budget, so the remaining budget is never negative; delivery
 * beyond the budget is kept apart as overrun (served, but no one can bill it).
 */
export interface CampaignBooks {
  budgetMicros: bigint;
  billableMicros: bigint;
  overrunMicros: bigint;
  impressions: number;
  completions: number;
  clicks: number;
  valueMicros: number;
}

export class SpendLedger {
  private readonly books = new Map<string, CampaignBooks>();

  constructor(budgets: Iterable<[campaignId: string, budgetMicros: bigint]>) {
    for (const [id, budgetMicros] of budgets) {
      if (budgetMicros < 0n) throw new RangeError(`campaign ${id}: budget must not be negative`);
      this.books.set(id, {
        budgetMicros,
        billableMicros: 0n,
        overrunMicros: 0n,
        impressions: 0,
        completions: 0,
        clicks: 0,
        valueMicros: 0,
      });
    }
  }

  charge(campaignId: string, priceMicros: bigint): void {
    if (priceMicros < 0n) throw new RangeError(`campaign ${campaignId}: negative price ${priceMicros}`);
    const b = this.get(campaignId);
    const headroom = b.budgetMicros - b.billableMicros;
    const billable = priceMicros < headroom ? priceMicros : headroom;
    b.billableMicros += billable;
    b.overrunMicros += priceMicros - billable;
    b.impressions++;
  }

  credit(campaignId: string, outcome: { completed: boolean; clicked: boolean; valueMicros: number }): void {
    const b = this.get(campaignId);
    if (outcome.completed) b.completions++;
    if (outcome.clicked) b.clicks++;
    b.valueMicros += outcome.valueMicros;
  }

  remaining(campaignId: string): bigint {
    const b = this.get(campaignId);
    return b.budgetMicros - b.billableMicros;
  }

  get(campaignId: string): CampaignBooks {
    const b = this.books.get(campaignId);
    if (!b) throw new Error(`unknown campaign ${campaignId}`);
    return b;
  }

  all(): ReadonlyMap<string, CampaignBooks> {
    return this.books;
  }
}
