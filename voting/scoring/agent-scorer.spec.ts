/**
 * AgentScorer in one process with a real nats-server, real registry and real WASM (the shipped builds and
 * variants compiled from wasm-core's sources): swap, shadow, canary, and containment with automatic rollback.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModuleStateChange_Action } from "../../gen/chorus/v1/module_pb.ts";
import { demoInventory } from "../../lib/demo/demo-inventory.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import { type NatsFixture, startNats } from "../../lib/testing/nats-fixture.ts";
import { ModuleOperations } from "../../modules/module-operations.ts";
import { ModuleRegistry } from "../../modules/module-registry.ts";
import { ModuleVerifier } from "../../modules/module-verifier.ts";
import { serveRollbackRequests } from "../../modules/rollback-requests.ts";
import { generateSigningKey, parsePrivateKey, TrustedKeys } from "../../modules/signing-keys.ts";
import { agentVariants, buildAgentVariant } from "../../modules/testing/agent-variants.ts";
import { eventually, logger, testConfig } from "../../modules/testing/hot-swap-fixture.ts";
import { AGENT_SCORING_ABI_VERSION } from "../../wasm-core/src/agent-scoring-abi.ts";
import type { AnyAgentModule, VoteContext } from "../contract/agent-module.ts";
import { GOLDEN_SEED } from "../registry/agent-module-kind.ts";
import { AGENT_SCORINGS } from "../registry/agent-scorings.ts";
import { moduleKinds } from "../registry/module-kinds.ts";
import { type AgentScoring, BUILTIN_SCORING_VERSION, startAgentScoring } from "../registry/start-agent-scoring.ts";
import { relevanceAgent } from "../relevance/agent.ts";
import { timingAgent } from "../timing/agent.ts";
import { voteTiming } from "../timing/vote.ts";
import { scoringOf } from "./agent-scorer.ts";

const inventory = demoInventory();
const key = generateSigningKey();
let nats: NatsFixture;
let operations: ModuleOperations;
let scoring: AgentScoring;
const state = { timing: timingAgent.createState(), relevance: relevanceAgent.createState() };

const ctx = (i: number): VoteContext => ({
  runId: `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`,
  request: demoRequest(),
  inventory,
  nowMs: Date.now(),
  priorVotes: [],
});
const vote = (agent: "timing" | "relevance", i: number) => {
  const module = scoring.modules.find((m) => m.name === agent) as AnyAgentModule;
  const v = module.vote(ctx(i), state[agent]);
  return { vote: v, scoring: scoringOf(v)! };
};

async function publish(module: string, version: string, bytes: Uint8Array): Promise<void> {
  await operations.publish(bytes, {
    module,
    version,
    abiVersion: AGENT_SCORING_ABI_VERSION,
    privateKey: parsePrivateKey(key.privateKeyPem),
    author: "test@scorer",
  });
}

beforeAll(async () => {
  nats = await startNats();
  const verifier = new ModuleVerifier({
    trustedKeys: TrustedKeys.parse(key.publicKeyPem),
    kinds: moduleKinds(),
    selfTestBudgetMs: 1_500,
  });
  const registry = await ModuleRegistry.open(nats.js);
  operations = new ModuleOperations(registry, verifier, "test@scorer");
  // The operator side applies the automatic rollbacks the scorers ask for (modules/rollback-requests.ts).
  serveRollbackRequests(nats.nc, registry, logger);
  scoring = await startAgentScoring([timingAgent, relevanceAgent], {
    js: nats.js,
    nc: nats.nc,
    config: { ...testConfig, agentCallTimeoutMs: 30, agentMaxMemoryMb: 8, reportIntervalMs: 200 },
    actor: "scorer-test",
    logger,
    verifier,
  });
  // The live candidate count must be one no golden case uses, or the latent variants would fail their self-test.
  for (const agent of ["timing", "relevance"] as const)
    expect(AGENT_SCORINGS[agent]!.goldenCases(GOLDEN_SEED).map((c) => c.n)).not.toContain(inventory.size);
}, 30_000);
afterAll(async () => {
  await scoring?.close();
  await nats?.cleanup();
});

describe("agent scorer - hot-swapped scoring modules in a process", () => {
  it("agent scorer - the shipped build votes exactly as the TypeScript agent and names its version", () => {
    const { vote: v, scoring: s } = vote("timing", 1);
    expect(s).toEqual({ version: BUILTIN_SCORING_VERSION });
    const reference = voteTiming(ctx(1), state.timing);
    expect(v.scores).toEqual(reference.scores);
    expect(v.confidence).toBe(reference.confidence);
    expect(v.timing).toEqual(reference.timing);
  });

  it("agent scorer - activation swaps between votes; shadow compares without changing votes; canary splits by run id", async () => {
    const before = vote("timing", 2).vote.scores;
    await publish("agent-timing", "1.1.0", await buildAgentVariant("timing", agentVariants.halveScores("timing")));
    await operations.activate("agent-timing", "1.1.0", "test");
    await eventually(() => (scoring.scorers.get("timing")!.activeVersion === "1.1.0" ? true : undefined));
    const after = vote("timing", 2);
    expect(after.scoring.version).toBe("1.1.0");
    expect(after.vote.scores).toEqual(before.map((s) => s * 0.5));

    await publish("agent-timing", "1.2.0", await buildAgentVariant("timing", agentVariants.build("timing", 2)));
    await operations.shadow("agent-timing", "1.2.0");
    const scorer = scoring.scorers.get("timing")!;
    await eventually(() => scorer.lane("shadow"));
    let i = 0;
    const shadow = await eventually(() => {
      // Votes go on being scored by the active version while the shadow runs beside it.
      expect(vote("timing", 100 + i++).scoring.version).toBe("1.1.0");
      const report = scorer.stats().shadow;
      return report && report.compared >= 10 ? report : undefined;
    }, 20_000);
    // 1.2.0 is the unhalved build: every compared vote differs by half its mean score.
    expect(shadow).toMatchObject({ version: "1.2.0", failures: 0 });
    expect(shadow.podDiffRate).toBe(1);
    expect(shadow.meanAbsPriceDeltaMicros).toBeGreaterThan(0);

    await operations.canary("agent-timing", "1.2.0", 50);
    await eventually(() => scorer.lane("canary"));
    const versions = Array.from({ length: 200 }, (_, i) => vote("timing", 1_000 + i).scoring.version);
    const onCanary = versions.filter((v) => v === "1.2.0").length;
    expect(onCanary).toBeGreaterThan(60);
    expect(onCanary).toBeLessThan(140);
    expect(new Set(versions)).toEqual(new Set(["1.1.0", "1.2.0"]));
    // The same decision lands on the same side every time.
    expect(vote("timing", 1_000).scoring.version).toBe(versions[0]);
    await operations.rollback("agent-timing", "end of trial");
  });

  it("agent scorer - a module that loops fails only its own calls (built-in fallback, worker replaced) and is rolled back", async () => {
    await publish(
      "agent-relevance",
      "2.0.0",
      await buildAgentVariant("relevance", agentVariants.loopOn("relevance", inventory.size)),
    );
    await operations.activate("agent-relevance", "2.0.0", "latent loop");
    const scorer = scoring.scorers.get("relevance")!;
    await eventually(() => (scorer.activeVersion === "2.0.0" ? true : undefined));
    const lane = scorer.lane("active")!;
    const outcomes: string[] = [];
    const rolledBack = eventually(async () => {
      const s = await operations.state("agent-relevance");
      return s.activeVersion === "" ? s : undefined;
    }, 15_000);
    let done = false;
    void rolledBack.finally(() => {
      done = true;
    });
    while (!done) {
      const { vote: v, scoring: s } = vote("relevance", outcomes.length);
      // Every vote is a full vote: the module's, or the built-in formulas' when the module failed.
      expect(v.scores).toHaveLength(inventory.size);
      outcomes.push(s.failure ?? s.version);
      await new Promise((r) => setTimeout(r, 5));
    }
    const state = await rolledBack;
    expect(state.history.at(-1)).toMatchObject({ action: ModuleStateChange_Action.AUTO_ROLLBACK, version: "2.0.0" });
    expect(state.history.at(-1)!.reason).toMatch(
      /^probation: active 2\.0\.0 failed on call \d+ .*no answer within 30 ms/,
    );
    expect(outcomes).toContain("timeout");
    expect(outcomes).not.toContain("2.0.0");
    expect(scorer.stats().rolledBack).toContain("2.0.0");
    await eventually(() => (scorer.activeVersion === BUILTIN_SCORING_VERSION ? true : undefined));
    expect(vote("relevance", 1).scoring).toEqual({ version: BUILTIN_SCORING_VERSION });
    // Each timed-out call's worker was terminated (inside its loop) and replaced.
    expect(lane.replacements).toBeGreaterThanOrEqual(outcomes.filter((o) => o === "timeout").length);
  }, 30_000);

  it("agent scorer - a module that traps fails only its own calls, its worker is replaced, and it is rolled back", async () => {
    await publish(
      "agent-timing",
      "3.0.0",
      await buildAgentVariant("timing", agentVariants.trapOn("timing", inventory.size)),
    );
    const before = await operations.state("agent-timing");
    await operations.activate("agent-timing", "3.0.0", "latent trap");
    const scorer = scoring.scorers.get("timing")!;
    await eventually(() => (scorer.activeVersion === "3.0.0" ? true : undefined));
    const first = vote("timing", 7);
    // "error" (the trap); a first call in a fresh worker may also pass its 30 ms limit on a loaded machine.
    expect(first.scoring).toEqual({
      version: timingAgent.version,
      failure: expect.stringMatching(/^(error|timeout)$/),
    });
    expect(first.vote.scores).toEqual(voteTiming(ctx(7), state.timing).scores);
    // One failure on probation rolls it back (the share rule would wait for rollbackMinCalls calls).
    const state2 = await eventually(async () => {
      vote("timing", 8);
      const s = await operations.state("agent-timing");
      return s.activeVersion !== "3.0.0" ? s : undefined;
    });
    expect(state2.activeVersion).toBe(before.activeVersion);
    expect(state2.history.at(-1)).toMatchObject({ action: ModuleStateChange_Action.AUTO_ROLLBACK, version: "3.0.0" });
    expect(state2.history.at(-1)!.reason).toMatch(/^probation: active 3\.0\.0 failed on call 1 /);
    expect(state2.history.at(-1)!.reason).toMatch(/module failed: status -100/);
  }, 30_000);

  it("agent scorer - a module whose memory grows without bound fails those calls, gets fresh workers and is rolled back", async () => {
    await publish(
      "agent-relevance",
      "4.0.0",
      await buildAgentVariant("relevance", agentVariants.growOn("relevance", inventory.size)),
    );
    await operations.activate("agent-relevance", "4.0.0", "memory leak");
    const scorer = scoring.scorers.get("relevance")!;
    await eventually(() => (scorer.activeVersion === "4.0.0" ? true : undefined));
    const lane = scorer.lane("active")!;
    const state = await eventually(async () => {
      const { vote: v } = vote("relevance", 9);
      expect(v.scores).toHaveLength(inventory.size);
      const s = await operations.state("agent-relevance");
      return s.activeVersion !== "4.0.0" ? s : undefined;
    }, 15_000);
    expect(state.history.at(-1)).toMatchObject({ action: ModuleStateChange_Action.AUTO_ROLLBACK, version: "4.0.0" });
    expect(state.history.at(-1)!.reason).toMatch(/module memory grew to \d+ bytes \(limit 8388608\)/);
    expect(lane.replacements).toBeGreaterThanOrEqual(1);
  });
});
