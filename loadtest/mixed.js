// A player-like mix over Connect JSON: Decide at RATE, and for a share of the decisions (EVENTS_SHARE) the player
// then reports the ad's impression, start and complete with ReportEvents. Thresholds per RPC.
//   k6 run -e API_KEY=$CHORUS_DECIDE_KEY -e RATE=500 -e EVENTS_SHARE=0.5 loadtest/mixed.js
import { check } from "k6";
import http from "k6/http";
import { Rate } from "k6/metrics";
import { arrivalScenario, BASE_URL, HEADERS, MAX_ERROR_RATE, P99_MS, RATE, TIMEOUT } from "./lib/config.js";
import { adEvents, decideRequest } from "./lib/decide-request.js";

const EVENTS_SHARE = Number(__ENV.EVENTS_SHARE || 0.5);
/** ReportEvents answers after the events are durably stored (JetStream): a looser bound than Decide. */
const EVENTS_P99_MS = Number(__ENV.EVENTS_P99_MS || 50);
const errors = new Rate("rpc_errors");

export const options = {
  scenarios: {
    decide_only: arrivalScenario(Math.round(RATE * (1 - EVENTS_SHARE)), "decideOnly"),
    decide_and_report: arrivalScenario(Math.round(RATE * EVENTS_SHARE), "decideAndReport"),
  },
  thresholds: {
    rpc_errors: [`rate<${MAX_ERROR_RATE}`],
    "http_req_duration{rpc:Decide}": [`p(99)<${P99_MS}`],
    "http_req_duration{rpc:ReportEvents}": [`p(99)<${EVENTS_P99_MS}`],
    "http_req_failed{rpc:ReportEvents}": [`rate<${MAX_ERROR_RATE}`],
  },
};

function call(method, body) {
  return http.post(`${BASE_URL}/chorus.v1.DecisionService/${method}`, JSON.stringify(body), {
    headers: HEADERS,
    tags: { rpc: method },
    timeout: TIMEOUT,
  });
}

function decide() {
  const res = call("Decide", decideRequest(__VU, __ITER));
  const ok = check(res, { "Decide 200": (r) => r.status === 200 });
  errors.add(!ok);
  return ok ? res.json() : undefined;
}

export function decideOnly() {
  decide();
}

export function decideAndReport() {
  const decision = decide();
  const ad = decision && decision.ads ? decision.ads[0] : undefined;
  if (!ad) return; // no fill: nothing played, nothing to report
  const res = call("ReportEvents", { events: adEvents(decision.decisionId, ad.creativeId, ad.eventToken) });
  const ok = check(res, {
    "ReportEvents 200": (r) => r.status === 200,
    "events accepted": (r) =>
      r.status === 200 && Number(r.json("accepted") || 0) + Number(r.json("duplicates") || 0) === 3,
  });
  errors.add(!ok);
}

export default decideOnly;
