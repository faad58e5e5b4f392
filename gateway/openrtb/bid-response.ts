import type { Bid, BidRequest, BidResponse } from "iab-openrtb/v26";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import type { DecideResponse, PodAd } from "../../gen/chorus/v1/decision_pb.ts";
import { type VastOptions, vastDocumentForAd } from "../vast/vast-document.ts";
import { maxAdSeconds, type Pod, type PodImp } from "./pod-requests.ts";

/** OpenRTB's substitution macro for the clearing price (§4.4), literal in notice URLs. */
const AUCTION_PRICE = "ap=$" + "{AUCTION_PRICE}&";
/** AdCOM creative subtype 13: VAST 4.2 (what the adm holds). */
const VAST_4_2 = 13;
/** AdCOM category taxonomy 1: IAB Content Category Taxonomy 1.0 (the IAB1..IAB26 codes creatives carry). */
const IAB_CONTENT_1_0 = 1;

export interface BidContext {
  request: BidRequest;
  /** The currency bids are priced in, and its units per unit of the account currency. */
  currency: string;
  rate: number;
  vast: VastOptions;
  /** Seconds the ad may wait between auction and impression (the ledger's impression window). */
  expSeconds: number;
  /** MIME type of a creative, when the catalog knows it. */
  mimeOf(ad: PodAd): string;
}

export interface PodBids {
  bids: Bid[];
  /** Ads decided but not bid, and why (the exchange's constraints Decide cannot express). */
  dropped: { creativeId: string; reason: string }[];
}

/**
 * The bids of one decided pod. Ads go to the pod's impressions in pod order: each structured slot takes the first
 * ad that fits it (duration, floor, MIME type, blocked advertisers and categories), the dynamic impression takes
 * the rest within its pod duration and ad count.
 */
export function podBids(pod: Pod, decision: DecideResponse, ctx: BidContext): PodBids {
  const bids: Bid[] = [];
  const dropped: PodBids["dropped"] = [];
  const open = pod.imps.filter((p) => !p.media.poddur);
  const dynamic = pod.imps.find((p) => p.media.poddur);
  let dynamicSeconds = 0;
  let dynamicAds = 0;
  const dynamicBids: Bid[] = [];
  for (const ad of decision.ads) {
    const blocked = blockedBy(ad, ctx.request);
    if (blocked) {
      dropped.push({ creativeId: ad.creativeId, reason: blocked });
      continue;
    }
    const seconds = Math.ceil(ad.durationMs / 1000);
    const slot = open.findIndex((p) => fits(ad, seconds, p, ctx));
    if (slot >= 0) {
      bids.push(bid(ad, open[slot]!, decision, ctx));
      open.splice(slot, 1);
      continue;
    }
    const m = dynamic?.media;
    if (
      dynamic &&
      m &&
      fits(ad, seconds, dynamic, ctx) &&
      dynamicSeconds + seconds <= m.poddur! &&
      (!m.maxseq || dynamicAds < m.maxseq)
    ) {
      dynamicSeconds += seconds;
      dynamicAds++;
      const b = bid(ad, dynamic, decision, ctx);
      dynamicBids.push(b);
      bids.push(b);
      continue;
    }
    dropped.push({ creativeId: ad.creativeId, reason: "fits no impression of the pod (duration, floor or MIME type)" });
  }
  // slotinpod on bids only for the dynamic portion, and only where the seller guarantees that slot (§7.6).
  const guarantee = (dynamic?.media.slotinpod as number | undefined) ?? 0;
  if (dynamicBids.length > 0 && (guarantee === 1 || guarantee === 2)) dynamicBids[0]!.slotinpod = 1;
  if (dynamicBids.length > 1 && (guarantee === -1 || guarantee === 2)) dynamicBids.at(-1)!.slotinpod = -1;
  return { bids, dropped };
}

function fits(ad: PodAd, seconds: number, p: PodImp, ctx: BidContext): boolean {
  const m = p.media;
  if (m.rqddurs ? !m.rqddurs.includes(seconds) : seconds > maxAdSeconds(m) || seconds < (m.minduration ?? 0))
    return false;
  if (ad.priceMicros < p.floorMicros) return false;
  // mincpmpersec: a floor that grows with the ad's length, in the impression's floor currency.
  // (A tolerance for float products: 0.1 x 15 is 1.5000000000000002.)
  if (m.mincpmpersec && cpmIn(ad, ctx) + 1e-9 < m.mincpmpersec * seconds) return false;
  const mime = ctx.mimeOf(ad);
  return m.mimes.length === 0 || m.mimes.includes(mime);
}

function blockedBy(ad: PodAd, request: BidRequest): string | undefined {
  const domain = advertiserDomain(ad);
  if (domain && (request.badv ?? []).some((d) => d === domain || domain.endsWith(`.${d}`)))
    return `advertiser domain ${domain} is in badv`;
  const cat = ad.iabCategory;
  if (cat && (request.bcat ?? []).some((b) => cat === b || cat.startsWith(`${b}-`)))
    return `category ${cat} is in bcat`;
  return undefined;
}

/** adomain: the landing page's registrable-looking host (www. dropped), as exchanges match badv against it. */
export function advertiserDomain(ad: PodAd): string | undefined {
  if (!ad.clickUrl) return undefined;
  try {
    return new URL(ad.clickUrl).hostname.replace(/^www\./, "");
  } catch {
    return undefined;
  }
}

/** CPM in the bid currency: micros per impression x 1000 / 1e6, times the rate. */
function cpmIn(ad: PodAd, ctx: BidContext): number {
  return (Number(ad.priceMicros) / 1000) * ctx.rate;
}

function bid(ad: PodAd, p: PodImp, decision: DecideResponse, ctx: BidContext): Bid {
  const tracked = {
    decisionId: decision.decisionId,
    creativeId: ad.creativeId,
    eventToken: ad.eventToken,
  };
  const domain = advertiserDomain(ad);
  return {
    id: `${decision.decisionId}-${ad.sequence}`,
    impid: p.imp.id,
    price: Math.round(cpmIn(ad, ctx) * 1e6) / 1e6,
    adm: vastDocumentForAd(decision, ad, ctx.vast),
    adid: ad.creativeId,
    crid: ad.creativeId,
    cid: ad.campaignId,
    ...(domain ? { adomain: [domain] } : {}),
    ...(ad.iabCategory ? { cat: [ad.iabCategory], cattax: IAB_CONTENT_1_0 } : {}),
    dur: Math.ceil(ad.durationMs / 1000),
    mtype: ad.format === AdFormat.AUDIO ? 3 : 2,
    protocol: VAST_4_2,
    exp: ctx.expSeconds,
    // The win notice is informational; the billing notice is the impression itself (counted once with the
    // player's VAST impression pixel: same ad, same event).
    nurl: ctx.vast.tracking.url("win", tracked, AUCTION_PRICE),
    burl: ctx.vast.tracking.url("impression", tracked, AUCTION_PRICE),
  } as Bid;
}

export function bidResponse(request: BidRequest, bids: Bid[], currency: string, bidId: string): BidResponse {
  return { id: request.id, bidid: bidId, cur: currency, seatbid: [{ seat: "chorus", bid: bids }] } as BidResponse;
}
