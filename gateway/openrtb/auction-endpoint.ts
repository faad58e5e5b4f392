import type { Bid } from "iab-openrtb/v26";
import { clientGone, type HttpEndpoint, HttpError, header, readBody, sendBody } from "../server/http-endpoints.ts";
import type { DecisionEngine, HttpDecisions } from "../server/ports.ts";
import type { VastOptions } from "../vast/vast-document.ts";
import { checkBidRequest } from "./bid-request-schema.ts";
import { bidResponse, podBids } from "./bid-response.ts";
import { type Currencies, decideRequestOf, podsOf } from "./pod-requests.ts";

export const OPENRTB_PATH = "/openrtb2/auction";

export interface AuctionEndpointOptions {
  decisions: HttpDecisions;
  vast: VastOptions;
  currencies: Currencies;
  maxBodyBytes: number;
  /** MIME type of a creative from the catalog ("" when unknown: then the media URL's is guessed). */
  mimeOf(creativeId: string, mediaUrl: string, audio: boolean): string;
  /** Seconds a won ad may wait for its impression (the ledger's impression window). */
  expSeconds: number;
  /** Decision time when the exchange sends no tmax. */
  defaultTmaxMs?: number;
  counters?: { request(result: string): void };
}

/** Time kept back from tmax for the way back to the exchange: a tenth, at least 5 ms. */
function responseMarginMs(tmax: number): number {
  return Math.max(5, Math.ceil(tmax / 10));
}

/**
 * POST /openrtb2/auction: an OpenRTB 2.6 BidRequest with audio and video impressions. Each pod (impressions
 * sharing a podid) is one Decide; the decided ads become bids priced as CPM in the currency asked for, each with
 * its VAST 4.2 document in adm. 204 when there is no bid, also when the decision cannot be made within tmax.
 */
export function auctionEndpoint(options: AuctionEndpointOptions): HttpEndpoint {
  return {
    method: "POST",
    path: OPENRTB_PATH,
    async handle(req, res) {
      const started = performance.now();
      const caller = options.decisions.authorize(header(req.headers, "authorization"));
      const type = header(req.headers, "content-type") ?? "application/json";
      if (!/^application\/json\b/i.test(type)) {
        options.counters?.request("invalid");
        throw new HttpError(415, `content-type: ${type.slice(0, 64)} is not application/json`);
      }
      const body = await readBody(req, options.maxBodyBytes);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString("utf8"));
      } catch (err) {
        options.counters?.request("invalid");
        throw new HttpError(400, `body: not JSON (${(err as Error).message})`);
      }
      const check = checkBidRequest(parsed);
      if (!check.ok) {
        options.counters?.request("invalid");
        throw new HttpError(400, check.error);
      }
      const request = check.request;
      let pods: ReturnType<typeof podsOf>;
      let currency: { code: string; rate: number } | undefined;
      let decideRequests: ReturnType<typeof decideRequestOf>[];
      const tmax = request.tmax ?? options.defaultTmaxMs ?? 1_000;
      const budgetMs = Math.max(1, tmax - responseMarginMs(tmax) - (performance.now() - started));
      try {
        pods = podsOf(request, options.currencies);
        currency = bidCurrency(request.cur, options.currencies);
        decideRequests = pods.map((pod) => decideRequestOf(request, pod, Math.min(10_000, Math.floor(budgetMs))));
      } catch (err) {
        options.counters?.request("invalid");
        throw err;
      }
      // Server-Timing: how long the gateway took, so an exchange (and the tmax spec) can tell it from the network.
      const timing = () => `total;dur=${(performance.now() - started).toFixed(1)}`;
      const noBid = (reason: string) => {
        options.counters?.request(reason === "late" ? "late" : "no_bid");
        sendBody(res, 204, "text/plain", Buffer.alloc(0), {
          "x-openrtb-version": "2.6",
          "x-chorus-no-bid": reason,
          "server-timing": timing(),
        });
      };
      if (pods.length === 0) return noBid("no audio or video impression");
      if (!currency) return noBid(`none of cur ${JSON.stringify(request.cur)} can be priced`);

      // Past the budget the answer is no bid, and the decisions still running are told to stop (a cancelled
      // decision reserves no spend once the API trust work lands; today it may still sell and expire unplayed).
      const late = new AbortController();
      const gone = clientGone(req, res);
      gone.addEventListener("abort", () => late.abort(gone.reason), { once: true });
      const timer = setTimeout(() => late.abort(new HttpError(204, "late")), budgetMs);
      let decisions: Awaited<ReturnType<DecisionEngine["decide"]>>[];
      try {
        decisions = await Promise.race([
          Promise.all(decideRequests.map((r) => options.decisions.decide(caller, r, late.signal))),
          new Promise<never>((_, reject) => late.signal.addEventListener("abort", () => reject(late.signal.reason))),
        ]);
      } catch (err) {
        if (late.signal.aborted) return noBid("late");
        throw err;
      } finally {
        clearTimeout(timer);
      }
      const bids: Bid[] = [];
      const ctx = {
        request,
        currency: currency.code,
        rate: currency.rate,
        vast: options.vast,
        expSeconds: options.expSeconds,
        mimeOf: (ad: { creativeId: string; mediaUrl: string; format: number }) =>
          options.mimeOf(ad.creativeId, ad.mediaUrl, ad.format === 1),
      };
      pods.forEach((pod, i) => {
        bids.push(...podBids(pod, decisions[i]!, ctx).bids);
      });
      if (bids.length === 0) return noBid(decisions[0]?.ads.length ? "constraints" : "no fill");
      options.counters?.request("bid");
      const response = bidResponse(request, bids, currency.code, decisions[0]!.decisionId);
      sendBody(res, 200, "application/json", JSON.stringify(response), {
        "x-openrtb-version": "2.6",
        "server-timing": timing(),
      });
    },
  };
}

/** The account currency when the exchange accepts it (or names none), else the first accepted one with a rate. */
function bidCurrency(
  accepted: string[] | undefined,
  currencies: Currencies,
): { code: string; rate: number } | undefined {
  if (!accepted || accepted.length === 0 || accepted.includes(currencies.account))
    return { code: currencies.account, rate: 1 };
  for (const code of accepted) {
    const rate = currencies.rate(code);
    if (rate !== undefined) return { code, rate };
  }
  return undefined;
}
