import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { type DecideRequest, DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { TIMEOUT } from "../lib/call-tally.ts";
import type { Http2UnaryTarget } from "../lib/http2-unary-target.ts";
import type { Histogram } from "../lib/latency-histogram.ts";
import type { LoadClient, StepResult } from "../lib/load-client-handle.ts";
import { pooledValue } from "../lib/numbered-bodies.ts";

/**
 * The soak's Decide load from the lean load client processes (--client raw): gRPC over raw HTTP/2 frames from
 * processes of their own, so that under overload the gateway's refusals do not wait for CPU the client takes
 * (connect-node in the soak's own process took 50-60% of a core at 800/s on two cores).
 */

/** Step rates of the capacity probe, lowest first (both clients). */
export const PROBE_RATES = [10, 20, 30, 50, 100, 200, 300, 400, 600, 800, 1_200];

/** What a minute row needs from the Decide load, whichever client sent it. */
export interface DecideMinute {
  answered: number;
  /** Answered with at least one ad. */
  filled: number;
  errors: number;
  /** Failures by gRPC code name (as connect-node names them), and the first reason seen for each. */
  errorCodes: Record<string, number>;
  errorExamples: Record<string, string>;
  /** Answered calls' latency, µs. */
  latency: Histogram;
  /** Time to the refusal (RESOURCE_EXHAUSTED or UNAVAILABLE), µs. */
  refusals: Histogram;
  timeouts: number;
  /** How late the client sent against its schedule, p99 ms (raw client only: whether it kept up). */
  clientSendLagP99Ms?: number;
}

/**
 * The soak's requests (its template pool, forceNow set) as the load client's bodies: the request id counts up in
 * the client; user and session walk the same pool of `users` values together (each listener in a session of their
 * own, as the connect-node load sends them), so caps never fill and the sold share stays flat.
 */
export function rawDecideTarget(
  pool: readonly DecideRequest[],
  users: number,
  o: { url: string; apiKey: string; sessions: number; timeoutMs: number; returnSold?: boolean },
): Http2UnaryTarget {
  const digits = listenerDigits(users);
  const zeros = "0".repeat(digits);
  const bodies = pool.map((t) =>
    Buffer.from(
      toBinary(
        DecideRequestSchema,
        create(DecideRequestSchema, {
          ...t,
          requestId: `soak-raw-req-${"0".repeat(12)}`,
          user: { ...t.user!, userId: `soak-user-${zeros}` },
          context: { ...t.context!, sessionId: `soak-session-${zeros}` },
        }),
      ),
    ).toString("base64"),
  );
  return {
    kind: "http2-unary",
    client: "raw-http2",
    url: o.url,
    path: "/chorus.v1.DecisionService/Decide",
    protocol: "grpc",
    bodies,
    fields: [
      { marker: "soak-raw-req-", digits: 12 },
      { marker: "soak-user-", digits, pool: users },
      { marker: "soak-session-", digits, pool: users },
    ],
    countAds: true,
    returnSold: o.returnSold === true,
    sessions: o.sessions,
    timeoutMs: o.timeoutMs,
    apiKey: o.apiKey,
  };
}

const listenerDigits = (users: number) => Math.max(1, Math.round(Math.log10(users)));

/** The user and session the load client puts in request `n` (for the playback signals sent from the soak). */
export function rawListener(n: number, users: number): { userId: string; sessionId: string } {
  const listener = String(pooledValue(n, users)).padStart(listenerDigits(users), "0");
  return { userId: `soak-user-${listener}`, sessionId: `soak-session-${listener}` };
}

/** A failure reason of the raw client as the gRPC code connect-node would report ("grpc-status 8" -> ResourceExhausted). */
function codeName(reason: string): string {
  if (reason === TIMEOUT) return Code[Code.DeadlineExceeded];
  // REFUSED_STREAM: the server did not start the call; gRPC clients report it as UNAVAILABLE.
  if (reason === "reset 7") return Code[Code.Unavailable];
  const status = /^grpc-status (\d+)$/.exec(reason);
  return (status && Code[Number(status[1])]) || reason;
}

export function decideMinute(r: StepResult): DecideMinute {
  const errorCodes: Record<string, number> = {};
  const errorExamples: Record<string, string> = {};
  for (const [reason, n] of Object.entries(r.errorCounts)) {
    const code = codeName(reason);
    errorCodes[code] = (errorCodes[code] ?? 0) + n;
    errorExamples[code] ??= reason;
  }
  return {
    answered: r.completed,
    filled: r.sold,
    errors: r.errors,
    errorCodes,
    errorExamples,
    latency: r.latency,
    refusals: r.refusals,
    timeouts: r.timeouts,
    clientSendLagP99Ms: Math.round(r.sendLag.getValueAtPercentile(99) / 10) / 100,
  };
}

/**
 * The capacity probe of soak.ts with the raw client: a warm-up at up to 30/s, then steps up PROBE_RATES while one
 * is sustained (>= 95% answered, no errors, p99 under `p99Ms`). The same rule as the connect-node probe, so the
 * capacity is the mesh's with the client that will load it.
 */
export async function probeCapacityRaw(
  client: LoadClient,
  target: Http2UnaryTarget,
  o: { seconds: number; p99Ms: number; warmupSeconds: number },
  log: (line: string) => void,
): Promise<number> {
  const p99 = (r: StepResult) => Math.round(r.latency.getValueAtPercentile(99) / 10) / 100;
  if (o.warmupSeconds > 0) {
    const w = await client.run(target, 30, o.warmupSeconds * 1000, undefined, { rampMs: o.warmupSeconds * 500 });
    log(
      `probe warm-up ${o.warmupSeconds} s (up to 30/s, raw client): ${w.completed} answered, p99 ${p99(w)} ms, ${w.errors} errors`,
    );
  }
  let best = 0;
  for (const rate of PROBE_RATES) {
    const r = await client.run(target, rate, o.seconds * 1000);
    const answered = r.completed / o.seconds;
    log(
      `probe ${rate}/s (raw client): ${Math.round(answered)}/s answered, p99 ${p99(r)} ms, ${r.errors} errors${r.errors ? ` ${JSON.stringify(r.errorCounts)}` : ""}`,
    );
    if (answered >= rate * 0.95 && r.errors === 0 && p99(r) < o.p99Ms) best = rate;
    else break;
  }
  return Math.max(best, 10);
}
