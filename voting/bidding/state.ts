import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { AuctionOutcome } from "../../gen/chorus/v1/agent_pb.ts";
import {
  type BiddingSignal,
  BiddingSignalSchema,
  type CampaignBidding,
  CampaignBiddingSchema,
} from "../../gen/chorus/v1/agent_signals_pb.ts";
import { BidStrategy_Kind, type Campaign, Goal } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdEventType, type DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";
import type { LedgerEntry } from "../../gen/chorus/v1/ledger_pb.ts";
import { trimToCap } from "../../lib/collections/lru.ts";
import { GLOBAL_KEY, type HandlerContext } from "../contract/agent-module.ts";
import { stateLimits } from "../limits/state-limits.ts";
import { priorRate } from "../relevance/relevance-features.ts";
import { budgetPeriod } from "./budget-period.ts";
import {
  type CampaignBidder,
  campaignBidderConfig,
  createCampaignBidder,
  recordAuction,
  recordResponses,
} from "./campaign-bidder.ts";
import { campaignBidderJson, restoreCampaignBidder } from "./campaign-bidder-snapshot.ts";
import { type BiddingPlan, planBidding } from "./plan-bidding.ts";

/** One campaign's learning (voting/bidding logic) plus its budget period's spend and auctions, for pacing. */
export interface CampaignBiddingState {
  bidder: CampaignBidder;
  /**
   * What `decideBid` reads; undefined once the bidder changed, computed again on the next vote (`campaignPlan`):
   * the market estimate is the costly part, and learning from every auction must not pay it every time.
   */
  plan: BiddingPlan | undefined;
  /** The budget period the figures below are for (budget-period.ts: a UTC day number, or FLIGHT_PERIOD). */
  day: number;
  spentMicros: number;
  opportunities: number;
}

export interface BiddingState {
  readonly campaigns: Map<string, CampaignBiddingState>;
  readonly changed: Set<string>;
  /** `${decisionId}/${creativeId}` -> campaign and context of a won impression, to credit its responses. */
  readonly won: Map<string, { campaignId: string; contextKey: string; goal: Goal }>;
  /** Campaigns whose bidder learned since its model last went out in a signal (`snapshotBidding`). */
  readonly modelDue: Set<string>;
  /** When each campaign's model last went out in a signal (server clock, ms). */
  readonly modelSentAt: Map<string, number>;
  /** The server's clock, for `MODEL_SIGNAL_MS`. */
  readonly clock: () => number;
}

/**
 * A campaign's learned model (the bidder as JSON) goes out in a delta signal at most this often; its pacing figures
 * (spend and auctions in the period) go out in every one. Under traffic every campaign learns from nearly every
 * auction, and mirrors rebuilt each model and its plan four times a second: in a gateway at 200 decisions/s that
 * churn was about a third of what survived into old space, and old space is collected in pauses of 60-200 ms. A
 * model that learned from a few hundred more auctions bids the same within a second or two.
 */
export const MODEL_SIGNAL_MS = 2_000;

export { DAY_MS } from "./budget-period.ts";

export function createBiddingState(clock: () => number = Date.now): BiddingState {
  return {
    campaigns: new Map(),
    changed: new Set(),
    won: new Map(),
    modelDue: new Set(),
    modelSentAt: new Map(),
    clock,
  };
}

/** The campaign's plan, computed once per change of its bidder (a memo: votes stay pure). */
export function campaignPlan(e: CampaignBiddingState): BiddingPlan {
  e.plan ??= planBidding(e.bidder);
  return e.plan;
}

/** Calibration context: the kind of break on the kind of device. */
export function contextKey(request: DecideRequest): string {
  return `${request.placement?.breakKind ?? 0}|${request.device?.type ?? 0}`;
}

/** Per impression, in micros (max CPM / 1000). */
export function maxBidMicros(campaign: Campaign): number {
  return Math.floor(Number(campaign.bidStrategy?.maxCpmMicros ?? 0n) / 1000);
}

/** A new bidder for a campaign, valuing a response at the target cost, else at max bid / prior response rate. */
export function newCampaignBidder(campaign: Campaign): CampaignBidder {
  const maxBid = maxBidMicros(campaign);
  const target = Number(campaign.bidStrategy?.targetCostMicros ?? 0n);
  const fixed = campaign.bidStrategy?.kind === BidStrategy_Kind.FIXED_CPM;
  return createCampaignBidder(
    campaignBidderConfig({
      maxBidMicros: maxBid,
      valuePerResponseMicros: Math.max(1, target > 0 ? target : maxBid / priorRate(campaign.goal)),
      // A fixed CPM never shades: the pacing multiplier is pinned to 1.
      ...(fixed ? { minPacingMultiplier: 1, maxPacingMultiplier: 1 } : {}),
    }),
  );
}

function entryFor(state: BiddingState, campaign: Campaign, atMs: number): CampaignBiddingState {
  const day = budgetPeriod(campaign, atMs).id;
  let e = state.campaigns.get(campaign.id);
  if (!e || e.bidder.config.maxBidMicros !== maxBidMicros(campaign)) {
    const bidder = newCampaignBidder(campaign);
    e = { bidder, plan: undefined, day, spentMicros: 0, opportunities: 0 };
    state.campaigns.set(campaign.id, e);
  }
  if (e.day !== day) Object.assign(e, { day, spentMicros: 0, opportunities: 0 });
  return e;
}

/** Learns won/lost and clearing prices from one auction. */
export function applyOutcome(state: BiddingState, outcome: AuctionOutcome, ctx: HandlerContext): string[] {
  if (!outcome.request) return [];
  const inventory = ctx.inventory();
  const at = outcome.decidedAt ? timestampMs(outcome.decidedAt) : ctx.nowMs;
  const key = contextKey(outcome.request);
  const seen = new Set<string>();
  for (const entry of outcome.entries) {
    const campaign = inventory.byCreativeId(entry.creativeId)?.campaign;
    // One auction per campaign per decision, on its best creative (entries come winners first, then by rank).
    if (!campaign || seen.has(campaign.id)) continue;
    seen.add(campaign.id);
    const e = entryFor(state, campaign, at);
    const p = entry.predictedResponse > 0 ? entry.predictedResponse : priorRate(campaign.goal);
    const bidMicros = Math.round(entry.bidMicros * p);
    if (entry.won) {
      const price = Number(entry.priceMicros);
      recordAuction(e.bidder, { contextKey: key, predictedResponse: p, bidMicros, won: true, priceMicros: price });
      e.spentMicros += price;
      state.won.set(`${outcome.decisionId}/${entry.creativeId}`, {
        campaignId: campaign.id,
        contextKey: key,
        goal: campaign.goal,
      });
    } else {
      const beat = Number(entry.priceToBeatMicros);
      recordAuction(e.bidder, {
        contextKey: key,
        predictedResponse: p,
        bidMicros,
        won: false,
        ...(beat > 0 ? { priceToBeatMicros: beat } : {}),
      });
    }
    e.opportunities++;
    e.plan = undefined;
    state.changed.add(campaign.id);
  }
  trimToCap(state.won, stateLimits().maxPendingAds);
  return seen.size > 0 ? [GLOBAL_KEY] : [];
}

/**
 * The one event type that is a response for a campaign's goal. For an impression goal it is the impression itself
 * (the ad played): the calibration then learns played / predicted impressions, about 1. Without it an impression
 * campaign's calibration saw exposure and never a response, fell to its minimum multiplier (a quarter of the value)
 * within a few dozen impressions, and the campaign bid a quarter of its max bid for the rest of its flight.
 */
const GOAL_RESPONSE: Partial<Record<Goal, AdEventType>> = {
  [Goal.IMPRESSIONS]: AdEventType.IMPRESSION,
  [Goal.COMPLETIONS]: AdEventType.COMPLETE,
  [Goal.CLICKS]: AdEventType.CLICK,
  [Goal.CONVERSIONS]: AdEventType.CONVERSION,
};

/**
 * Credits a response to the context calibration of the impression: only the event the campaign's goal counts (a
 * skip or a quartile is not a click), and at most once per ad, since the calibration is a response rate per
 * impression.
 */
export function applyResponse(state: BiddingState, entry: LedgerEntry): string[] {
  const event = entry.event;
  if (!event) return [];
  const adKey = `${event.decisionId}/${event.creativeId}`;
  const won = state.won.get(adKey);
  const e = won && state.campaigns.get(won.campaignId);
  if (!won || !e || GOAL_RESPONSE[won.goal] !== event.type) return [];
  state.won.delete(adKey);
  recordResponses(e.bidder, won.contextKey, 1);
  e.plan = undefined;
  state.changed.add(won.campaignId);
  return [GLOBAL_KEY];
}

/**
 * `full` (the KV snapshot): every campaign with its model. `delta` (a signal): the campaigns changed since the last
 * one, each with its pacing figures, and with its model only if that has not gone out for `MODEL_SIGNAL_MS`; a
 * model held back goes out with a later delta: the next change, or at the latest the runtime's full refresh round
 * (a delta of every owned key, once a minute by default), so the last thing learned always reaches the mirrors.
 */
export function snapshotBidding(state: BiddingState, _key: string, scope: "full" | "delta"): BiddingSignal {
  let ids: string[];
  let withModel: (id: string) => boolean = () => true;
  if (scope === "full") ids = [...state.campaigns.keys()];
  else {
    const now = state.clock();
    for (const id of state.changed) state.modelDue.add(id);
    const due = (id: string) =>
      state.modelDue.has(id) && now - (state.modelSentAt.get(id) ?? Number.NEGATIVE_INFINITY) >= MODEL_SIGNAL_MS;
    ids = [...new Set([...state.changed, ...[...state.modelDue].filter(due)])];
    state.changed.clear();
    const sending = new Set(ids.filter(due));
    for (const id of sending) {
      state.modelDue.delete(id);
      state.modelSentAt.set(id, now);
    }
    withModel = (id) => sending.has(id);
  }
  const campaigns: CampaignBidding[] = ids.flatMap((id) => {
    const e = state.campaigns.get(id);
    if (!e) return [];
    return [
      create(CampaignBiddingSchema, {
        campaignId: id,
        bidderJson: withModel(id) ? campaignBidderJson(e.bidder) : "",
        day: e.day,
        spentMicros: BigInt(e.spentMicros),
        opportunities: BigInt(e.opportunities),
      }),
    ];
  });
  return create(BiddingSignalSchema, { campaigns });
}

export function restoreBidding(state: BiddingState, _key: string, signal: BiddingSignal): void {
  for (const c of signal.campaigns) {
    if (!c.bidderJson) {
      // Pacing figures only (the model comes at most every MODEL_SIGNAL_MS): the bidder and its plan stay. A
      // mirror that has not had this campaign's model yet keeps bidding on the neutral plan until it comes.
      const known = state.campaigns.get(c.campaignId);
      if (known)
        Object.assign(known, {
          day: c.day,
          spentMicros: Number(c.spentMicros),
          opportunities: Number(c.opportunities),
        });
      continue;
    }
    // restoreCampaignBidder validates: a corrupt entry throws and the runtime drops the signal.
    const bidder = restoreCampaignBidder(JSON.parse(c.bidderJson));
    state.campaigns.set(c.campaignId, {
      bidder,
      plan: undefined,
      day: c.day,
      spentMicros: Number(c.spentMicros),
      opportunities: Number(c.opportunities),
    });
  }
}
