import { create } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecideResponseSchema, DecisionService } from "../gen/chorus/v1/decision_pb.ts";
import { withApiKey } from "./auth/client-key.ts";
import { type GatewayFixture, startGatewayFixture } from "./testing/gateway-fixture.ts";
import { decideRequest } from "./testing/sample-requests.ts";

let fx: GatewayFixture;
let release: () => void = () => {};
let reachedEngine: () => void = () => {};
const inEngine = new Promise<void>((r) => {
  reachedEngine = r;
});
beforeAll(async () => {
  // A test engine that answers only when released, to hold a call in flight across close().
  fx = await startGatewayFixture({
    engine: {
      decide: (request) =>
        new Promise((resolve) => {
          release = () => resolve(create(DecideResponseSchema, { decisionId: `late-${request.requestId}` }));
          reachedEngine();
        }),
    },
  });
});
afterAll(() => fx?.cleanup());

describe("gateway lifecycle", () => {
  it("close - reports NOT_SERVING, lets the in-flight call finish, then refuses new calls", async () => {
    const client = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(fx.keys.decide)] }),
    );
    const inFlight = client.decide(decideRequest("held"));
    await inEngine; // a fixed sleep here raced the call on a loaded machine: close() came before the call arrived
    const closed = fx.gateway.close();
    expect(fx.gateway.health.get("")).toBe("NOT_SERVING");
    setTimeout(() => release(), 100);
    expect((await inFlight).decisionId).toBe("late-held");
    await closed;
    const fresh = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(fx.keys.decide)] }),
    );
    await expect(fresh.decide(decideRequest("after"))).rejects.toMatchObject({ code: Code.Unavailable });
  });
});
