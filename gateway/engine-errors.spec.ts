import { type Client, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { errors } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DecideRequest, type DecideResponse, DecisionService } from "../gen/chorus/v1/decision_pb.ts";
import { withApiKey } from "./auth/client-key.ts";
import type { Cancellation, DecisionEngine } from "./server/ports.ts";
import { type GatewayFixture, startGatewayFixture } from "./testing/gateway-fixture.ts";
import { decideRequest } from "./testing/sample-requests.ts";

/** A test engine whose behaviour each test sets, recording the signal it was given. */
class ScriptedEngine implements DecisionEngine {
  behaviour: (signal: Cancellation) => Promise<DecideResponse> = () => Promise.reject(new Error("not scripted"));
  signals: Cancellation[] = [];
  decide(_request: DecideRequest, { signal }: { signal?: Cancellation }): Promise<DecideResponse> {
    this.signals.push(signal!);
    return this.behaviour(signal!);
  }
}

const engine = new ScriptedEngine();
let fx: GatewayFixture;
beforeAll(async () => {
  fx = await startGatewayFixture({ engine });
});
afterAll(() => fx?.cleanup());

const transports: [string, (baseUrl: string, key: string) => Transport][] = [
  ["gRPC (fast path)", (baseUrl, key) => createGrpcTransport({ baseUrl, interceptors: [withApiKey(key)] })],
  [
    "Connect (fast path)",
    (baseUrl, key) => createConnectTransport({ baseUrl, interceptors: [withApiKey(key)], httpVersion: "2" }),
  ],
  [
    "gRPC-Web (connect-node)",
    (baseUrl, key) => createGrpcWebTransport({ baseUrl, interceptors: [withApiKey(key)], httpVersion: "1.1" }),
  ],
];

describe.each(transports)("gateway engine errors over %s", (_name, makeTransport) => {
  let client: Client<typeof DecisionService>;
  beforeAll(() => {
    client = createClient(DecisionService, makeTransport(fx.gateway.url, fx.keys.decide));
  });

  it("engine errors - a ConnectError from the engine reaches the client with its code and message", async () => {
    engine.behaviour = async () => {
      throw new ConnectError("no budget lease for this placement", Code.FailedPrecondition);
    };
    await expect(client.decide(decideRequest())).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: "no budget lease for this placement",
    });
  });

  it("engine errors - a plain Error is INTERNAL and leaks neither its message nor its stack", async () => {
    engine.behaviour = async () => {
      throw new Error("kernel pool crashed at /srv/secret/path.ts:42");
    };
    const err = await client.decide(decideRequest()).then(
      () => new ConnectError("unexpectedly succeeded"),
      (e: unknown) => ConnectError.from(e),
    );
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe("internal error");
    expect(JSON.stringify(err)).not.toContain("secret");
  });

  it("engine errors - a bus error no handler mapped is UNAVAILABLE or DEADLINE_EXCEEDED, not INTERNAL", async () => {
    engine.behaviour = async () => {
      throw new errors.NoRespondersError("chorus.agent.intent.vote");
    };
    await expect(client.decide(decideRequest())).rejects.toMatchObject({ code: Code.Unavailable });
    engine.behaviour = async () => {
      throw new errors.TimeoutError();
    };
    await expect(client.decide(decideRequest())).rejects.toMatchObject({ code: Code.DeadlineExceeded });
  });

  it("engine errors - the request deadline aborts the engine's signal and the client gets DEADLINE_EXCEEDED", async () => {
    engine.signals = [];
    const aborted = new Promise<unknown>((resolve) => {
      // The engine polls its cancellation, as the decision engine does between its steps.
      engine.behaviour = (signal) =>
        new Promise((_resolve, reject) => {
          const poll = setInterval(() => {
            if (!signal.aborted) return;
            clearInterval(poll);
            resolve(signal.reason);
            reject(signal.reason);
          }, 5);
        });
    });
    const started = Date.now();
    await expect(client.decide(decideRequest(), { timeoutMs: 300 })).rejects.toMatchObject({
      code: Code.DeadlineExceeded,
    });
    const reason = await aborted;
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(engine.signals[0]!.aborted).toBe(true);
    // The server's deadline or the client's reset, whichever came first: either way the engine stops.
    expect([Code.DeadlineExceeded, Code.Canceled]).toContain(ConnectError.from(reason).code);
  });
});
