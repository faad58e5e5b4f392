/**
 * An agent instance (runAgent) voting through its scoring module, as agents/host.ts runs it, over a real
 * nats-server: the answer names the version that scored it, a swap reaches the micro-service without a restart,
 * and a failed module call answers the task with error 500 (the gateway then degrades the agent and votes on its
 * own mirror) instead of a vote the module did not make.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentVoteSchema, DecideTaskSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { CatalogStore, openCatalogBucket } from "../../lib/catalog/catalog-store.ts";
import { CatalogView } from "../../lib/catalog/catalog-view.ts";
import { demoCatalog, loadDemoCatalog } from "../../lib/demo/demo-catalog.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import { subjects } from "../../lib/subjects.ts";
import { type NatsFixture, startNats } from "../../lib/testing/nats-fixture.ts";
import { ModuleOperations } from "../../modules/module-operations.ts";
import { ModuleRegistry } from "../../modules/module-registry.ts";
import { ModuleVerifier } from "../../modules/module-verifier.ts";
import { generateSigningKey, parsePrivateKey, TrustedKeys } from "../../modules/signing-keys.ts";
import { agentVariants, buildAgentVariant } from "../../modules/testing/agent-variants.ts";
import { eventually, logger, testConfig } from "../../modules/testing/hot-swap-fixture.ts";
import { moduleKinds } from "../../voting/registry/module-kinds.ts";
import {
  type AgentScoring,
  BUILTIN_SCORING_VERSION,
  startAgentScoring,
} from "../../voting/registry/start-agent-scoring.ts";
import { timingAgent } from "../../voting/timing/agent.ts";
import { AGENT_SCORING_ABI_VERSION } from "../../wasm-core/src/agent-scoring-abi.ts";
import { type RunningAgent, runAgent } from "./run-agent.ts";

describe("agent host - votes through hot-swapped scoring modules", () => {
  const key = generateSigningKey();
  let nats: NatsFixture;
  let view: CatalogView;
  let scoring: AgentScoring;
  let agent: RunningAgent;
  let operations: ModuleOperations;
  beforeAll(async () => {
    nats = await startNats();
    const kv = await openCatalogBucket(nats.js);
    await loadDemoCatalog(new CatalogStore(kv), demoCatalog({ advertisers: 6 }));
    view = await CatalogView.open(kv);
    const verifier = new ModuleVerifier({
      trustedKeys: TrustedKeys.parse(key.publicKeyPem),
      kinds: moduleKinds(),
      selfTestBudgetMs: 1_500,
    });
    operations = new ModuleOperations(await ModuleRegistry.open(nats.js), verifier, "test@host");
    scoring = await startAgentScoring([timingAgent], {
      js: nats.js,
      nc: nats.nc,
      config: { ...testConfig, agentCallTimeoutMs: 30, rollbackMinCalls: 1_000 },
      actor: "host-test",
      logger,
      verifier,
    });
    agent = await runAgent(scoring.modules[0]!, { nc: await nats.connect("host"), catalog: view, logger });
  });
  afterAll(async () => {
    await agent?.stop();
    await scoring?.close();
    view?.close();
    await nats?.cleanup();
  });

  const ask = async () => {
    const task = create(DecideTaskSchema, {
      runId: crypto.randomUUID(),
      request: demoRequest(),
      inventoryVersion: BigInt(view.inventory.version),
      deadline: timestampFromMs(Date.now() + 2_000),
    });
    const reply = await nats.nc.request(subjects.agentDecide("timing"), toBinary(DecideTaskSchema, task), {
      timeout: 2_000,
    });
    const error = reply.headers?.get("Nats-Service-Error-Code");
    return error
      ? { error, detail: reply.headers?.get("Nats-Service-Error") }
      : fromBinary(AgentVoteSchema, reply.data);
  };
  const publish = async (version: string, source: string) =>
    operations.publish(await buildAgentVariant("timing", source), {
      module: "agent-timing",
      version,
      abiVersion: AGENT_SCORING_ABI_VERSION,
      privateKey: parsePrivateKey(key.privateKeyPem),
      author: "test@host",
    });

  it("agent host - answers name the scoring version, a swap needs no restart, a failed call answers error 500", async () => {
    const builtin = await ask();
    expect(builtin).toMatchObject({ agent: "timing", moduleVersion: BUILTIN_SCORING_VERSION });

    await publish("1.1.0", agentVariants.halveScores("timing"));
    await operations.activate("agent-timing", "1.1.0");
    const swapped = await eventually(async () => {
      const vote = await ask();
      return "moduleVersion" in vote && vote.moduleVersion === "1.1.0" ? vote : undefined;
    });
    const scores = (builtin as { scores: number[] }).scores;
    expect(swapped.scores).toEqual(scores.map((s) => Math.fround(s * 0.5)));

    await publish("1.2.0", agentVariants.trapOn("timing", view.inventory.size));
    await operations.activate("agent-timing", "1.2.0");
    await eventually(() => (scoring.scorers.get("timing")!.activeVersion === "1.2.0" ? true : undefined));
    expect(await ask()).toEqual({ error: "500", detail: "scoring module call failed (error)" });
  });
});
