// Decide over the Connect protocol (JSON over HTTP, k6/http) at a fixed arrival rate. k6 speaks HTTP/1.1 to a
// cleartext server; the gateway serves Connect on HTTP/1.1 and HTTP/2 on the same port.
//   k6 run -e API_KEY=$CHORUS_DECIDE_KEY loadtest/decide-connect.js
//   k6 run -e API_KEY=... -e BASE_URL=https://chorus.example.com -e RATE=1000 -e DURATION=2m loadtest/decide-connect.js
import { check } from "k6";
import http from "k6/http";
import { Rate } from "k6/metrics";
import { arrivalScenario, BASE_URL, HEADERS, MAX_ERROR_RATE, P99_MS, RATE, TIMEOUT } from "./lib/config.js";
import { decideRequest } from "./lib/decide-request.js";

const decideErrors = new Rate("decide_errors");

export const options = {
  scenarios: { decide: arrivalScenario(RATE, "decide") },
  thresholds: {
    decide_errors: [`rate<${MAX_ERROR_RATE}`],
    http_req_failed: [`rate<${MAX_ERROR_RATE}`],
    "http_req_duration{rpc:Decide}": [`p(99)<${P99_MS}`],
  },
};

export function decide() {
  const res = http.post(`${BASE_URL}/chorus.v1.DecisionService/Decide`, JSON.stringify(decideRequest(__VU, __ITER)), {
    headers: HEADERS,
    tags: { rpc: "Decide" },
    timeout: TIMEOUT,
  });
  const ok = check(res, {
    "status is 200": (r) => r.status === 200,
    "has a decision id": (r) => r.status === 200 && Boolean(r.json("decisionId")),
  });
  decideErrors.add(!ok);
}

export default decide;
