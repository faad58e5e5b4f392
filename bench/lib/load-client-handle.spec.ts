import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecideRequestSchema, DecideResponseSchema, DecisionService } from "../../gen/chorus/v1/decision_pb.ts";
import { summarize } from "./latency-histogram.ts";
import { LoadClient } from "./load-client-handle.ts";

const ids = new Set<string>();
const routes = (router: ConnectRouter) =>
  router.service(DecisionService, {
    decide: (request) => {
      ids.add(request.requestId);
      // Even request numbers sell one ad: the client's sold share must come out at one half.
      const sells = Number(request.requestId.slice(-1)) % 2 === 0;
      return create(DecideResponseSchema, { decisionId: request.requestId, ads: sells ? [{ creativeId: "a" }] : [] });
    },
  });
const server = http2.createServer(connectNodeAdapter({ routes }));
let url = "";
let client: LoadClient;

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  client = await LoadClient.start(2);
});
afterAll(async () => {
  await client.close();
  await new Promise<void>((r) => server.close(() => r()));
});

describe("load client", () => {
  it("load client - runs an open-loop step split over its processes and merges their histograms", async () => {
    const progress: number[] = [];
    const body = Buffer.from(
      toBinary(DecideRequestSchema, create(DecideRequestSchema, { requestId: "bench-request-0000" })),
    );
    const result = await client.run(
      {
        kind: "http2-unary",
        url,
        path: "/chorus.v1.DecisionService/Decide",
        protocol: "grpc",
        bodies: [body.toString("base64")],
        fields: [{ marker: "bench-request-", digits: 4 }],
        countAds: true,
        sessions: 2,
        // Generous: a connect-node server on a machine shared by many builds can stall for seconds.
        timeoutMs: 10_000,
      },
      200,
      1_000,
      (p) => progress.push(p.issued),
    );
    expect(new Set([process.pid, ...client.pids]).size).toBe(3);
    expect(result.errorSamples).toEqual([]);
    expect(result).toMatchObject({ issued: 200, completed: 200, errors: 0, sold: 100, ads: 100 });
    // The two processes number their requests apart: 200 distinct ids.
    expect(ids.size).toBe(200);
    expect(summarize(result.latency).count).toBe(200);
    expect(progress.length).toBeGreaterThan(0);
  });

  it("load client - with returnSold, the parent gets the message of every answer that sold", async () => {
    const body = Buffer.from(
      toBinary(DecideRequestSchema, create(DecideRequestSchema, { requestId: "sold-request-0000" })),
    );
    const sold: string[] = [];
    const result = await client.run(
      {
        kind: "http2-unary",
        url,
        path: "/chorus.v1.DecisionService/Decide",
        protocol: "grpc",
        bodies: [body.toString("base64")],
        fields: [{ marker: "sold-request-", digits: 4 }],
        returnSold: true,
        sessions: 2,
        timeoutMs: 10_000,
      },
      100,
      1_000,
      undefined,
      { onSold: (messages) => sold.push(...messages.map((m) => fromBinary(DecideResponseSchema, m).decisionId)) },
    );
    expect(result).toMatchObject({ completed: 100, sold: 50 });
    // Even request numbers sell: their decisions, each once.
    expect(new Set(sold).size).toBe(50);
    expect(sold.every((id) => Number(id.slice(-1)) % 2 === 0)).toBe(true);
  });

  it("load client - a target it cannot reach fails the step with the reason", async () => {
    await expect(
      client.run(
        { kind: "nats-scatter", natsUrl: "nats://127.0.0.1:1", subjects: ["x"], payload: "", timeoutMs: 100 },
        10,
        100,
      ),
    ).rejects.toThrow(/load client: /);
  });
});
