// Decide over gRPC (k6/net/grpc) at a fixed arrival rate.
//   k6 run -e API_KEY=$CHORUS_DECIDE_KEY loadtest/decide-grpc.js   # reflection against 127.0.0.1:8080
//   k6 run -e GATEWAY=host:443 -e TLS=1 -e RATE=1000 loadtest/decide-grpc.js
//   k6 run -e PROTO=1 loadtest/decide-grpc.js              # load proto/ instead of asking the server (reflection)
import { check } from "k6";
import { Rate } from "k6/metrics";
import grpc from "k6/net/grpc";
import { arrivalScenario, GATEWAY, grpcMetadata, MAX_ERROR_RATE, P99_MS, RATE, TIMEOUT, TLS } from "./lib/config.js";
import { decideRequest } from "./lib/decide-request.js";

const USE_PROTO_FILES = __ENV.PROTO === "1";
const client = new grpc.Client();
// Client.load must run in the init context; paths are relative to this script.
if (USE_PROTO_FILES) client.load(["../proto", "../proto-vendor"], "chorus/v1/decision.proto");

const decideErrors = new Rate("decide_errors");

export const options = {
  scenarios: { decide: arrivalScenario(RATE, "decide") },
  thresholds: {
    decide_errors: [`rate<${MAX_ERROR_RATE}`],
    grpc_req_duration: [`p(99)<${P99_MS}`],
    checks: [`rate>${1 - MAX_ERROR_RATE}`],
  },
};

export function decide() {
  // One connection per VU, kept for all its iterations (as a real client keeps its channel).
  if (__ITER === 0) client.connect(GATEWAY, { plaintext: !TLS, reflect: !USE_PROTO_FILES, timeout: TIMEOUT });
  const res = client.invoke("chorus.v1.DecisionService/Decide", decideRequest(__VU, __ITER), {
    timeout: TIMEOUT,
    metadata: grpcMetadata(),
  });
  const ok = check(res, {
    "status is OK": (r) => Boolean(r) && r.status === grpc.StatusOK,
    "has a decision id": (r) => Boolean(r && r.message && r.message.decisionId),
  });
  decideErrors.add(!ok);
}

export default decide;
