import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecideRequestSchema, DecideResponseSchema, DecisionService } from "../../gen/chorus/v1/decision_pb.ts";
import { summarize } from "./latency-histogram.ts";
import { LoadClient } from "./load-client-handle.ts";

let calls = 0;
const routes = (router: ConnectRouter) =>
  router.service(DecisionService, {
    decide: (request) => {
      calls++;
      return create(DecideResponseSchema, { decisionId: request.requestId });
    },
  });
const server = http2.createServer(connectNodeAdapter({ routes }));
let url = "";
let client: LoadClient;

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  client = await LoadClient.start();
});
afterAll(async () => {
  await client.close();
  await new Promise<void>((r) => server.close(() => r()));
});

describe("load client", () => {
  it("load client - runs an open-loop step in its own process and returns its histograms", async () => {
    const progress: number[] = [];
    const body = Buffer.from(toBinary(DecideRequestSchema, create(DecideRequestSchema, { requestId: "x" })));
    const result = await client.run(
      {
        kind: "http2-unary",
        url,
        path: "/chorus.v1.DecisionService/Decide",
        protocol: "grpc",
        bodies: [body.toString("base64")],
        sessions: 2,
        timeoutMs: 2_000,
      },
      200,
      1_000,
      (p) => progress.push(p.issued),
    );
    expect(client.pid).not.toBe(process.pid);
    expect(result).toMatchObject({ issued: 200, completed: 200, errors: 0 });
    expect(calls).toBe(200);
    expect(summarize(result.latency).count).toBe(200);
    expect(progress.length).toBeGreaterThan(0);
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
