import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentMeshFixture, startAgentMesh } from "../../agents/testing/agent-mesh-fixture.ts";
import { DecisionService } from "../../gen/chorus/v1/decision_pb.ts";
import type { SpendGuard } from "../../ledger/ports.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { withApiKey } from "../auth/client-key.ts";
import { type GatewayFixture, startGatewayFixture } from "../testing/gateway-fixture.ts";
import { type ClosableDecisionEngine, createDecisionEngine } from "./decision-engine.ts";
import type { Kernel } from "./kernel-port.ts";

/**
 * A client that gives up on a Decide while it is being decided (HTTP/2 RST_STREAM for gRPC, a closed stream for
 * Connect) must not be charged: the real gateway turns the reset into the handler's abort signal and the engine
 * checks it right before the spend commit. The kernel is the real WASM kernel, held for a moment so the reset
 * reliably lands mid-decision.
 */
describe("a Decide the client cancels through the real gateway", () => {
  const logger = createLogger("test", "warn");
  let mesh: AgentMeshFixture;
  let fixture: GatewayFixture;
  let engine: ClosableDecisionEngine;
  const commits: string[] = [];
  let entered: () => void = () => {};
  let holdMs = 0;
  let calls = 0;

  beforeAll(async () => {
    mesh = await startAgentMesh({ logger, kernelVersion: "simd-test" });
    const held: Kernel = {
      setInventory: (inventory) => mesh.kernel.setInventory(inventory),
      decide: async (request) => {
        entered();
        if (holdMs > 0) await new Promise((r) => setTimeout(r, holdMs));
        return mesh.kernel.decide(request);
      },
    };
    const spendGuard: SpendGuard = {
      headroom: () => 1_000_000_000n,
      commit: async (decisionId, items) => {
        commits.push(decisionId);
        return items;
      },
    };
    engine = await createDecisionEngine({
      nc: mesh.nats.nc,
      catalogView: mesh.view,
      kernel: held,
      coordination: "cached",
      deadlineMs: 2_000,
      logger,
      spendGuard,
    });
    fixture = await startGatewayFixture({ engine, on: { nats: mesh.nats, view: mesh.view } });
  }, 30_000);

  afterAll(async () => {
    await fixture?.cleanup();
    engine?.close();
    await mesh?.cleanup();
  });

  const transports = {
    "gRPC over HTTP/2": () =>
      createGrpcTransport({ baseUrl: fixture.gateway.url, interceptors: [withApiKey(fixture.keys.decide)] }),
    "Connect over HTTP/2": () =>
      createConnectTransport({
        baseUrl: fixture.gateway.url,
        httpVersion: "2",
        interceptors: [withApiKey(fixture.keys.decide)],
      }),
  };

  for (const [name, transport] of Object.entries(transports)) {
    it(`${name}: the reset arrives mid-decision, nothing is committed; the next call commits once`, async () => {
      const client = createClient(DecisionService, transport());
      // Unique request ids: a repeated one would be answered from the gateway's idempotency cache.
      const call = (signal?: AbortSignal) =>
        client.decide({ ...demoRequest(), requestId: `cancel-${++calls}` }, { signal });
      // The agents' first signals (cached mode) arrive within moments of start; wait for a full decision.
      holdMs = 0;
      await expect.poll(async () => (await call()).degradedAgents.length, { timeout: 10_000 }).toBe(0);
      commits.length = 0;

      holdMs = 300;
      const inKernel = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const abort = new AbortController();
      const pending = call(abort.signal);
      await inKernel;
      abort.abort();
      await expect(pending).rejects.toMatchObject({ code: Code.Canceled });
      // Let the held kernel call finish and the engine reach its commit point.
      await new Promise((r) => setTimeout(r, holdMs + 200));
      expect(commits).toEqual([]);

      holdMs = 0;
      const served = await call();
      expect(served.ads.length).toBeGreaterThan(0);
      expect(commits).toEqual([served.decisionId]);
    }, 30_000);
  }
});
