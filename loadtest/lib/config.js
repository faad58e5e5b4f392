// Shared settings of the k6 scripts, all from environment variables (k6 run -e NAME=value or the shell's env).

/** gRPC target, host:port (no scheme). */
export const GATEWAY = __ENV.GATEWAY || "127.0.0.1:8080";
/** HTTP target for Connect, with scheme. */
export const BASE_URL = __ENV.BASE_URL || `http://${GATEWAY}`;
/** Arrivals per second of the main scenario. */
export const RATE = Number(__ENV.RATE || 500);
export const DURATION = __ENV.DURATION || "30s";
/** Longest wait for one request (k6 duration syntax). */
export const TIMEOUT = __ENV.TIMEOUT || "2s";
/** p99 bound for Decide, milliseconds (the target: 10 ms in cached mode). */
export const P99_MS = Number(__ENV.P99_MS || 10);
/** Highest tolerated error rate. */
export const MAX_ERROR_RATE = Number(__ENV.MAX_ERROR_RATE || 0.001);
/** The API key (a decide key): -e API_KEY=... or CHORUS_DECIDE_KEY from .data/credentials.env. */
export const API_KEY = __ENV.API_KEY || __ENV.CHORUS_DECIDE_KEY || "";
/** TLS for remote gateways behind a TLS terminator (gRPC: plaintext off). */
export const TLS = __ENV.TLS === "1";
/** HTTP headers with the API key (`authorization: Bearer <key>` when one is set), merged over `headers`. */
export function withApiKey(headers) {
  const out = Object.assign({}, headers);
  if (API_KEY) out.Authorization = `Bearer ${API_KEY}`;
  return out;
}

/** gRPC call metadata with the API key. */
export function grpcMetadata() {
  return API_KEY ? { authorization: `Bearer ${API_KEY}` } : {};
}

/** Connect JSON headers with the key. */
export const HEADERS = withApiKey({ "Content-Type": "application/json", "Connect-Protocol-Version": "1" });

/**
 * An open-loop scenario: k6 starts `rate` iterations per second whatever the response times are (no coordinated
 * omission), with enough pre-allocated VUs that a slow phase cannot throttle the arrival rate.
 */
export function arrivalScenario(rate, exec, extra) {
  // Object.assign, not spread: k6 v0.48's compiler rejects object spread (and ?. and ??) — see loadtest/README.md.
  return Object.assign(
    {
      executor: "constant-arrival-rate",
      rate,
      timeUnit: "1s",
      duration: DURATION,
      preAllocatedVUs: Math.max(10, Math.ceil(rate / 20)),
      maxVUs: Math.max(50, Math.ceil(rate / 2)),
      exec,
    },
    extra || {},
  );
}
