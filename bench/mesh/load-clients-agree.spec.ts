import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { NatsServerProcess } from "../../lib/nats/nats-server-process.ts";
import { type RunningChild, startChild, stopChild } from "../../lib/process/launcher.ts";
import type { Http2UnaryTarget } from "../lib/http2-unary-target.ts";
import { summarize } from "../lib/latency-histogram.ts";
import { LoadClient } from "../lib/load-client-handle.ts";
import { decideRequests } from "./decide-requests.ts";

const clients = ["raw-http2", "node-http2"] as const;

/** Bodies in the workload; the one at INVALID lacks required fields: the gateway refuses it (INVALID_ARGUMENT). */
const BODIES = 17;
const INVALID = 16;

/**
 * The bench's workload with its request ids renamed per client (the same length): the gateway answers a repeated
 * id from its idempotency memory, so each client must send ids of its own.
 */
function workload(client: string): Pick<Http2UnaryTarget, "bodies" | "fields"> {
  const { bodies, fields } = decideRequests(BODIES - 1);
  const marker = `bench-${client === "raw-http2" ? "raw" : "nod"}-req-`;
  // The counter fields but no placement, device or context.
  const invalid = Buffer.from(
    toBinary(
      DecideRequestSchema,
      create(DecideRequestSchema, {
        requestId: `${marker}${"0".repeat(12)}`,
        user: { userId: `bench-user-${"0".repeat(8)}` },
      }),
    ),
  ).toString("base64");
  const renamed = bodies.map((b) =>
    Buffer.from(Buffer.from(b, "base64").toString("latin1").replace("bench-request-", marker), "latin1").toString(
      "base64",
    ),
  );
  return {
    bodies: [...renamed.slice(0, INVALID), invalid, ...renamed.slice(INVALID)],
    fields: fields.map((f) => (f.marker === "bench-request-" ? { ...f, marker } : f)),
  };
}

describe("load clients agree", () => {
  let nats: NatsServerProcess;
  let gateway: RunningChild;
  let echo: RunningChild;
  let loadClient: LoadClient;
  beforeAll(async () => {
    nats = await new NatsServerProcess().start();
    [gateway, echo, loadClient] = await Promise.all([
      startChild({ name: "instant-gateway", entry: "bench/mesh/instant-gateway", env: { NATS_URL: nats.url } }),
      startChild({ name: "bare-echo", entry: "bench/mesh/bare-echo" }),
      LoadClient.start(1),
    ]);
  }, 60_000);
  afterAll(async () => {
    await loadClient?.close();
    await Promise.all([gateway && stopChild(gateway.process), echo && stopChild(echo.process)]);
    await nats?.stop();
  });

  it("load clients agree - on the real gateway: the same counts, errors, codes and ads for the same workload", async () => {
    const results = [];
    for (const client of clients) {
      const target: Http2UnaryTarget = {
        kind: "http2-unary",
        client,
        url: String(gateway.ready.url),
        apiKey: String(gateway.ready.apiKey),
        path: "/chorus.v1.DecisionService/Decide",
        protocol: "grpc",
        ...workload(client),
        countAds: true,
        sessions: 2,
        timeoutMs: 10_000,
      };
      results.push(await loadClient.run(target, 130, 2_000));
    }
    const [raw, node] = results.map(({ latency, sendLag, refusals, elapsedMs, ...counts }) => ({
      ...counts,
      latencies: summarize(latency).count,
      refusals: refusals.totalCount,
    }));
    // Bodies are sent round-robin: the invalid one is refused, every other one answered with the fixed 3-ad pod.
    const refused = Array.from({ length: 260 }, (_, i) => i).filter((i) => i % BODIES === INVALID).length;
    expect(node).toEqual({
      issued: 260,
      completed: 260 - refused,
      errors: refused,
      errorSamples: ["grpc-status 3"],
      errorCounts: { "grpc-status 3": refused },
      timeouts: 0,
      sold: 260 - refused,
      ads: 3 * (260 - refused),
      latencies: 260 - refused,
      // INVALID_ARGUMENT is an error, not a refusal of load.
      refusals: 0,
    });
    expect(raw).toEqual(node);
  });

  it("load clients agree - on the bare echo, gRPC over both clients", async () => {
    const requests = decideRequests(16);
    const results = [];
    for (const client of clients) {
      const target: Http2UnaryTarget = {
        kind: "http2-unary",
        client,
        url: String(echo.ready.url),
        path: "/bench.v1.EchoService/Echo",
        protocol: "grpc",
        bodies: requests.bodies,
        fields: requests.fields,
        sessions: 4,
        timeoutMs: 10_000,
      };
      const { latency, sendLag, refusals, elapsedMs, ...counts } = await loadClient.run(target, 500, 1_000);
      results.push({ ...counts, latencies: summarize(latency).count, refusals: refusals.totalCount });
    }
    const all = {
      issued: 500,
      completed: 500,
      errors: 0,
      errorSamples: [],
      errorCounts: {},
      timeouts: 0,
      sold: 0,
      ads: 0,
      latencies: 500,
      refusals: 0,
    };
    expect(results[0]).toEqual(all);
    expect(results[1]).toEqual(results[0]);
  });
});
