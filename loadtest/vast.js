// A player-like VAST scenario over HTTP: GET /vast/v4 for an audio break at RATE; for a share of the pods
// (TRACK_SHARE) the player then plays every ad and fires its tracking URLs (impression, start, quartiles,
// complete) with the VAST macros filled in, then fires the first impression again as a flaky network would: it
// must count once (x-chorus-event-status: duplicate).
//   k6 run -e RATE=200 -e TRACK_SHARE=0.5 loadtest/vast.js
import { check } from "k6";
import http from "k6/http";
import { Rate } from "k6/metrics";
import { arrivalScenario, BASE_URL, MAX_ERROR_RATE, P99_MS, RATE, TIMEOUT, withApiKey } from "./lib/config.js";
import { adTracking, fillMacros, vastQuery } from "./lib/vast-request.js";

const TRACK_SHARE = Number(__ENV.TRACK_SHARE || 0.5);
/** A tracking hit answers after JetStream stored the event: a looser bound than the decision. */
const TRACKING_P99_MS = Number(__ENV.TRACKING_P99_MS || 50);
const errors = new Rate("vast_errors");
const HEADERS = withApiKey({});

export const options = {
  scenarios: {
    vast_only: arrivalScenario(Math.round(RATE * (1 - TRACK_SHARE)), "vastOnly"),
    vast_and_track: arrivalScenario(Math.round(RATE * TRACK_SHARE), "vastAndTrack"),
  },
  thresholds: {
    vast_errors: [`rate<${MAX_ERROR_RATE}`],
    "http_req_duration{endpoint:vast}": [`p(99)<${P99_MS}`],
    "http_req_duration{endpoint:tracking}": [`p(99)<${TRACKING_P99_MS}`],
    "http_req_failed{endpoint:tracking}": [`rate<${MAX_ERROR_RATE}`],
  },
};

function vast() {
  const res = http.get(`${BASE_URL}/vast/v4?${vastQuery(__VU, __ITER)}`, {
    headers: HEADERS,
    tags: { endpoint: "vast" },
    timeout: TIMEOUT,
  });
  const ok = check(res, {
    "VAST 200": (r) => r.status === 200,
    "VAST 4.2 document": (r) => r.status === 200 && r.body.indexOf('<VAST version="4.2"') >= 0,
  });
  errors.add(!ok);
  return ok ? res.body : undefined;
}

function track(url, playhead) {
  return http.get(fillMacros(url, playhead), { tags: { endpoint: "tracking" }, timeout: TIMEOUT });
}

export function vastOnly() {
  vast();
}

export function vastAndTrack() {
  const xml = vast();
  if (!xml) return;
  const ads = adTracking(xml);
  for (const ad of ads) {
    if (!ad.impression) {
      errors.add(true);
      continue;
    }
    const hits = [track(ad.impression, 190)];
    const names = ["start", "firstQuartile", "midpoint", "thirdQuartile", "complete"];
    for (let i = 0; i < names.length; i++) hits.push(track(ad.events[names[i]], 190 + i * 5));
    const ok = check(hits, {
      "tracking 204": (rs) => rs.every((r) => r.status === 204),
      "tracking counted": (rs) => rs.every((r) => r.headers["X-Chorus-Event-Status"] === "accepted"),
    });
    errors.add(!ok);
  }
  if (ads.length > 0 && ads[0].impression) {
    const again = track(ads[0].impression, 191);
    errors.add(
      !check(again, {
        "repeated impression counted once": (r) =>
          r.status === 204 && r.headers["X-Chorus-Event-Status"] === "duplicate",
      }),
    );
  }
}

export default vastOnly;
