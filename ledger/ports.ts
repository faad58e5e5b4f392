import type { ReportEventsRequest, ReportEventsResponse } from "../gen/chorus/v1/decision_pb.ts";

/**
 * What the ledger offers the processes that sell and count ads (the gateway): the event sink and the spend guard.
 * They live with their owner so that the ledger imports nothing from the gateway.
 */

/** Ad events: answers only after they are durably stored; duplicates (by event id) are counted once. */
export interface EventSink {
  /** `receiptLocators`: decision id -> where its (verified) event token says the receipt is stored. */
  report(request: ReportEventsRequest, receiptLocators?: ReadonlyMap<string, string>): Promise<ReportEventsResponse>;
}

/** One chosen ad, as the spend guard sees it. */
export interface SpendItem {
  campaignId: string;
  creativeId: string;
  priceMicros: bigint;
}

/**
 * The gateway side of budget safety (ledger/): which campaigns this gateway may serve now (it holds an unexpired
 * spend lease with headroom), and the reservation of a decision's spend against those leases before the response
 * leaves, so that spend is never committed without a record.
 */
export interface SpendGuard {
  /** Spend headroom in micros this gateway holds for the campaign right now; 0n = may not serve it. */
  headroom(campaignId: string): bigint;
  /**
   * Reserves the pod's spend and durably records what was sold (decision id, creatives, prices), so that events
   * can later be charged at the recorded price. Resolves to the items it accepted (a subset when a lease ran out).
   * The user id travels with the receipt so that charged impressions can feed frequency caps.
   */
  commit(decisionId: string, items: readonly SpendItem[], context?: { userId?: string }): Promise<readonly SpendItem[]>;
}
