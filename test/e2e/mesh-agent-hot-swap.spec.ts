/**
 * Agent scoring modules hot-swapped in the running mesh (nats-server, ledger, budget, an agent host and the
 * gateway as separate processes): under steady Decide load a new Relevance module goes live with zero failed
 * requests; every bad module is refused with its reason and changes nothing; a module that loops is contained
 * (its calls fall back, the agent is listed as degraded, no Decide fails) and rolled back automatically.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withApiKey } from "../../gateway/auth/client-key.ts";
import { AdFormat, BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import {
  DecideRequestSchema,
  type DecideResponse,
  DecisionService,
  DegradedReason,
} from "../../gen/chorus/v1/decision_pb.ts";
import { ModuleStateChange_Action } from "../../gen/chorus/v1/module_pb.ts";
import type { Mesh } from "../../launch/mesh.ts";
import type { NatsConnection } from "../../lib/nats/connect.ts";
import { permissionViolations } from "../../lib/nats/server-log.ts";
import { signManifest } from "../../modules/manifest-signature.ts";
import { ModuleOperations } from "../../modules/module-operations.ts";
import { ModuleRegistry } from "../../modules/module-registry.ts";
import { ModuleRejectedError } from "../../modules/module-rejected-error.ts";
import { ModuleVerifier } from "../../modules/module-verifier.ts";
import { generateSigningKey, parsePrivateKey, TrustedKeys } from "../../modules/signing-keys.ts";
import { agentVariants, buildAgentVariant } from "../../modules/testing/agent-variants.ts";
import { GOLDEN_SEED } from "../../voting/registry/agent-module-kind.ts";
import { AGENT_SCORINGS } from "../../voting/registry/agent-scorings.ts";
import { moduleKinds } from "../../voting/registry/module-kinds.ts";
import { BUILTIN_SCORING_VERSION } from "../../voting/registry/start-agent-scoring.ts";
import { AGENT_SCORING_ABI_VERSION, readAgentScoringWasm } from "../../wasm-core/src/agent-scoring-abi.ts";
import { startMeshOnFreePorts } from "./free-port-mesh.ts";

const request = (n: number) =>
  create(DecideRequestSchema, {
    requestId: `agent-swap-${n}`,
    placement: { breakKind: BreakKind.PRE_ROLL, maxDurationMs: 60_000, maxAds: 3, allowedFormats: [AdFormat.AUDIO] },
    user: {
      userId: `agent-swap-user-${n % 50}`,
      consent: { personalizedAds: true, measurement: true },
      geo: { country: "DE" },
    },
    device: { type: DeviceType.PHONE },
    context: {
      sessionId: `agent-swap-${n % 50}`,
      contentKind: ContentKind.MUSIC,
      genre: "rock",
      contentDurationMs: 180_000,
    },
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("mesh - hot swap of agent scoring modules under steady Decide load", () => {
  const key = generateSigningKey();
  const keysDir = mkdtempSync(join(tmpdir(), "chorus-agent-keys-"));
  const keysFile = join(keysDir, "trusted.pem");
  let mesh: Mesh;
  let nc: NatsConnection;
  let operations: ModuleOperations;
  let candidates = 0;
  const publish = async (module: string, version: string, bytes: Uint8Array) =>
    operations.publish(bytes, {
      module,
      version,
      abiVersion: AGENT_SCORING_ABI_VERSION,
      privateKey: parsePrivateKey(key.privateKeyPem),
      author: "e2e@test",
    });

  beforeAll(async () => {
    writeFileSync(keysFile, key.publicKeyPem);
    mesh = await startMeshOnFreePorts(async (port) => ({
      gatewayPort: await port(),
      silent: true,
      // One agent host (every agent but budget) spares a process start.
      agentGroups: [["intent", "relevance", "timing", "bidding", "creative", "orchestrator"]],
      env: {
        CHORUS_TRUSTED_KEYS: keysFile,
        CHORUS_AGENT_MODULE_CALL_TIMEOUT_MS: "30",
        CHORUS_MODULE_ROLLBACK_MIN_CALLS: "5",
        // Live decisions see a slice of this size (the demo catalog offers these requests 36, and some drop out as
        // budgets are spent): a count no golden case uses, so the looping module below passes every check and fails
        // only on live traffic.
        CHORUS_RETRIEVAL_MAX_CANDIDATES: "20",
      },
    }));
    nc = await mesh.connect("agent-hot-swap-test");
    const registry = await ModuleRegistry.open(jetstream(nc));
    const verifier = new ModuleVerifier({
      trustedKeys: TrustedKeys.parse(key.publicKeyPem),
      kinds: moduleKinds(),
      selfTestBudgetMs: 2_000,
    });
    operations = new ModuleOperations(registry, verifier, "e2e@test");
    // The looping module must fire on the candidate count the agents see live: the retrieval stage's slice for these
    // requests (all alike in targeting), read from an explained decision once leases are held.
    const probe = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: mesh.gatewayUrl, interceptors: [withApiKey(mesh.credentials.decideKey)] }),
    );
    let probes = 0;
    const explained = async () => {
      const r = request(0);
      r.requestId = `agent-swap-probe-${probes++}`;
      r.explain = true;
      return probe.decide(r, { timeoutMs: 5_000 });
    };
    for (const until = Date.now() + 30_000; (await explained()).ads.length === 0 && Date.now() < until; )
      await sleep(200);
    candidates = Number(/ out of (\d+) candidates/.exec((await explained()).explanation?.summary ?? "")?.[1]);
    expect(candidates).toBeGreaterThan(0);
  }, 60_000);
  afterAll(async () => {
    await nc?.close();
    await mesh?.stop();
  }, 30_000);

  /** Decides back to back with 8 callers until `until` resolves; every response and every error, in order. */
  const responses: DecideResponse[] = [];
  let n = 0; // request ids stay unique across loads: a repeated id is answered from the idempotency cache
  async function load(until: Promise<unknown>) {
    const client = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: mesh.gatewayUrl, interceptors: [withApiKey(mesh.credentials.decideKey)] }),
    );
    responses.length = 0;
    const failures: unknown[] = [];
    let running = true;
    void until.finally(() => {
      running = false;
    });
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (running) {
          try {
            responses.push(await client.decide(request(n++), { timeoutMs: 5_000 }));
          } catch (err) {
            failures.push(err);
          }
        }
      }),
    );
    return { responses, failures };
  }
  const versionOf = (r: DecideResponse | undefined, module: string) =>
    r?.moduleVersions.find((m) => m.module === module)?.version;

  it("mesh - a new relevance module goes live with zero failed decisions and responses name the version used", async () => {
    await publish(
      "agent-relevance",
      "1.1.0",
      await buildAgentVariant("relevance", agentVariants.halveScores("relevance")),
    );
    const done = (async () => {
      await sleep(700);
      await operations.activate("agent-relevance", "1.1.0", "e2e hot swap");
      // The gateway fetches and verifies the version itself (self-test included) before it swaps.
      const deadline = Date.now() + 15_000;
      while (versionOf(responses.at(-1), "relevance") !== "1.1.0" && Date.now() < deadline) await sleep(100);
      await sleep(1_000);
    })();
    const { failures } = await load(done);
    expect(failures).toEqual([]);
    const versions = responses.map((r) => versionOf(r, "relevance"));
    expect(versions[0]).toBe(BUILTIN_SCORING_VERSION);
    expect(versions.at(-1)).toBe("1.1.0");
    // Once a response names 1.1.0, later ones do not go back; no decision was degraded by the swap.
    const first = versions.indexOf("1.1.0");
    expect(versions.slice(first).every((v) => v === "1.1.0")).toBe(true);
    const moduleFailures = responses.flatMap((r) =>
      r.degradedAgents.filter((d) => d.reason === DegradedReason.ERROR || d.reason === DegradedReason.TIMEOUT),
    );
    expect(moduleFailures).toEqual([]);
  }, 30_000);

  it("mesh - bad agent modules are refused with their reason and leave the active one untouched", async () => {
    const before = await operations.state("agent-timing");
    const refused = async (version: string, bytes: Uint8Array) => {
      const err = await publish("agent-timing", version, bytes).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModuleRejectedError);
      return (err as ModuleRejectedError).reason;
    };
    const variant = (source: string) => buildAgentVariant("timing", source);
    expect(await refused("9.0.1", new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 9, 9]))).toBe("invalid_wasm");
    expect(await refused("9.0.2", await variant(agentVariants.forbiddenImport("timing")))).toBe("forbidden_import");
    expect(await refused("9.0.3", await variant(agentVariants.missingExport("timing")))).toBe("missing_export");
    expect(await refused("9.0.4", await variant(agentVariants.abiTwo("timing")))).toBe("abi_mismatch");
    expect(await refused("9.0.5", await variant(agentVariants.scoresAboveOne("timing")))).toBe("self_test_failed");
    expect(await refused("9.0.6", await variant(agentVariants.growMemory("timing")))).toBe("self_test_failed");
    expect(await refused("9.0.7", await variant(agentVariants.loopAlways("timing")))).toBe("self_test_timeout");

    // A manifest whose signature does not match (notes changed after signing), stored around the checks:
    // activating it is refused.
    const bytes = readAgentScoringWasm("timing");
    const manifest = signManifest(
      bytes,
      { module: "agent-timing", version: "9.0.8", abiVersion: AGENT_SCORING_ABI_VERSION, author: "e2e@test" },
      parsePrivateKey(key.privateKeyPem),
    );
    manifest.notes = "changed after signing";
    await (await ModuleRegistry.open(jetstream(nc))).publish(bytes, manifest);
    const activation = await operations.activate("agent-timing", "9.0.8").catch((e: unknown) => e);
    expect((activation as ModuleRejectedError).reason).toBe("bad_signature");

    // The CLI says why and what stayed as it was.
    const file = join(keysDir, "import.wasm");
    writeFileSync(file, await variant(agentVariants.forbiddenImport("timing")));
    writeFileSync(join(keysDir, "release.key"), key.privateKeyPem);
    const cli = await promisify(execFile)(
      process.execPath,
      [
        "--import",
        "tsx",
        "cli/chorus.ts",
        "modules",
        "publish",
        file,
        "--module",
        "agent-timing",
        "--version",
        "9.0.9",
        "--key",
        join(keysDir, "release.key"),
      ],
      { env: { ...process.env, NATS_URL: mesh.natsUrl, ...mesh.auth?.env("operator"), CHORUS_TRUSTED_KEYS: keysFile } },
    ).catch((e: { code: number; stderr: string }) => e);
    expect((cli as { code: number }).code).toBe(1);
    expect((cli as { stderr: string }).stderr).toMatch(
      /agent-timing 9\.0\.9 rejected \(forbidden_import\): imports wasi_snapshot_preview1\.proc_exit; allowed: nothing\nnothing changed: agent-timing: active \(built-in\)/,
    );

    const after = await operations.state("agent-timing");
    expect(after.activeVersion).toBe(before.activeVersion);
    expect(after.revision).toBe(before.revision);
    const listed = (await operations.list("agent-timing")).map((l) => l.manifest.version);
    expect(listed).toEqual(["9.0.8"]); // only the one stored around the checks
  }, 60_000);

  // Was skipped: after the tests above some responses named 2.0.0. The module looped only on the candidate count
  // measured before them, and the live slice shrinks as the earlier tests spend budgets: calls with another count
  // were answered by 2.0.0. It now loops on every count but the golden cases' (and one timeout on probation rolls it
  // back), so no live call can be answered by it.
  it("mesh - a looping timing module is contained: no failed decision, degraded votes, automatic rollback", async () => {
    const golden = AGENT_SCORINGS.timing.goldenCases(GOLDEN_SEED).map((c) => c.n);
    expect(golden).not.toContain(candidates);
    await publish(
      "agent-timing",
      "2.0.0",
      await buildAgentVariant("timing", agentVariants.loopUnless("timing", golden)),
    );
    const rolledBack = (async () => {
      await sleep(500);
      await operations.activate("agent-timing", "2.0.0", "latent loop");
      for (;;) {
        const state = await operations.state("agent-timing");
        if (state.activeVersion !== "2.0.0") return state;
        await sleep(100);
      }
    })();
    const { failures } = await load(rolledBack.then(() => sleep(700)));
    const state = await rolledBack;
    expect(failures).toEqual([]);
    expect(state.activeVersion).toBe("");
    expect(state.history.at(-1)).toMatchObject({ action: ModuleStateChange_Action.AUTO_ROLLBACK, version: "2.0.0" });
    expect(state.history.at(-1)!.reason).toMatch(/no answer within 30 ms/);
    const timedOut = responses.filter((r) =>
      r.degradedAgents.some((d) => d.agent === "timing" && d.reason === DegradedReason.TIMEOUT),
    );
    expect(timedOut.length).toBeGreaterThan(0);
    // The module answers at its golden candidate counts (so it passes its self-test), and a live slice can have such
    // a count once budgets run low: responses may name 2.0.0 for those. What matters: no failure, the timeouts are
    // degraded votes, the rollback, and the last responses scored by the shipped build again.
    expect(versionOf(responses.at(-1), "timing")).toBe(BUILTIN_SCORING_VERSION);
  }, 40_000);
  it("ran with NATS permissions on: no process was refused anything", () => {
    expect(mesh.auth, "the mesh's private server requires credentials").toBeDefined();
    expect(permissionViolations(mesh.natsLogFile)).toEqual([]);
  });
});
