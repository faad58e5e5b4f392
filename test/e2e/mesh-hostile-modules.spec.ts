/**
 * Hostile kernel modules against the running mesh (nats-server, ledger, budget, an agent host and the gateway as
 * separate processes), under steady Decide load: each is signed by a trusted key and passes every check at
 * publication (its fault is rare and only live traffic shows it), or is refused at the door. Every case asserts
 * zero failed Decide calls and the expected rollback (with its rule in the history) or refusal, and prints the
 * time it took to contain it: from the activation (or revocation) to the shared state without the version.
 *
 * The hostile modules are built here from AssemblyScript entry files kept with the test fixtures
 * (modules/testing/kernel-variants.ts), never shipped.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withApiKey } from "../../gateway/auth/client-key.ts";
import { AdFormat, BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import { DecideRequestSchema, type DecideResponse, DecisionService } from "../../gen/chorus/v1/decision_pb.ts";
import { ModuleStateChange_Action } from "../../gen/chorus/v1/module_pb.ts";
import { type Mesh, startMesh } from "../../launch/mesh.ts";
import { createLogger } from "../../lib/log/logger.ts";
import type { NatsConnection } from "../../lib/nats/connect.ts";
import { freePort } from "../../lib/nats/nats-server-process.ts";
import { KeyRevocations } from "../../modules/key-revocations.ts";
import { ModuleOperations } from "../../modules/module-operations.ts";
import { ModuleRegistry } from "../../modules/module-registry.ts";
import { ModuleRejectedError } from "../../modules/module-rejected-error.ts";
import { ModuleVerifier } from "../../modules/module-verifier.ts";
import { generateSigningKey, parsePrivateKey, type SigningKeyPair, TrustedKeys } from "../../modules/signing-keys.ts";
import { buildKernelVariant, kernelVariants, UNBOUNDED_MEMORY } from "../../modules/testing/kernel-variants.ts";
import { moduleKinds } from "../../voting/registry/module-kinds.ts";
import { KERNEL_ABI_VERSION } from "../../wasm-core/src/kernel-abi.ts";

const request = (n: number) =>
  create(DecideRequestSchema, {
    requestId: `hostile-${n}`,
    placement: {
      breakKind: BreakKind.PRE_ROLL,
      maxDurationMs: 60_000,
      maxAds: 3,
      allowedFormats: [AdFormat.AUDIO],
      forceNow: true,
    },
    // A new listener each time: frequency caps would empty the pods of a few repeated ones.
    user: {
      userId: `hostile-user-${n}`,
      consent: { personalizedAds: true, measurement: true },
      geo: { country: "DE" },
    },
    device: { type: DeviceType.PHONE, screenOn: false, foreground: false, touch: true },
    context: {
      sessionId: `hostile-${n}`,
      contentKind: ContentKind.MUSIC,
      genre: "rock",
      contentDurationMs: 180_000,
    },
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A fault fires on every EVERY-th kernel call of a worker: far above the self-test's call count. */
const EVERY = 60;
/** Containment times, printed at the end (and copied into the closing note). */
const contained: Array<[string, string]> = [];

describe("mesh - hostile kernel modules are contained with zero failed decisions", () => {
  const release = generateSigningKey();
  const doomed = generateSigningKey(); // revoked during the test
  const expired = generateSigningKey(); // its trusted-keys entry expired long ago
  const dir = mkdtempSync(join(tmpdir(), "chorus-hostile-"));
  const keysFile = join(dir, "trusted.pem");
  let mesh: Mesh;
  let nc: NatsConnection;
  let operations: ModuleOperations;
  let registry: ModuleRegistry;
  let n = 0;

  const publish = async (version: string, bytes: Uint8Array, key: SigningKeyPair = release) =>
    operations.publish(bytes, {
      module: "kernel",
      version,
      abiVersion: KERNEL_ABI_VERSION,
      privateKey: parsePrivateKey(key.privateKeyPem),
      author: "e2e@hostile",
    });

  beforeAll(async () => {
    writeFileSync(
      keysFile,
      `${release.publicKeyPem}${doomed.publicKeyPem}# expired\nexpires 2020-01-01T00:00:00Z\n${expired.publicKeyPem}`,
    );
    mesh = await startMesh({
      gatewayPort: await freePort(),
      silent: true,
      // The output faults fire only on filled pods. Flights that started 20 days ago: even pacing then leaves budget
      // for minutes of back-to-back load (flights starting an hour ago, the default, are paced dry in seconds).
      demoCatalog: { nowMs: Date.now() - 20 * 86_400_000 },
      agentGroups: [["intent", "relevance", "timing", "bidding", "creative", "orchestrator"]],
      readyTimeoutMs: 90_000,
      env: {
        CHORUS_TRUSTED_KEYS: keysFile,
        // Short probation, so that the rules past it (output, hangs) are what these rare faults meet.
        CHORUS_MODULE_PROBATION_CALLS: "20",
        CHORUS_MODULE_PROBATION_MS: "500",
        CHORUS_MODULE_HANG_LIMIT: "3",
        CHORUS_MODULE_HEALTH_FLUSH_MS: "200",
        // Each process runs the self-test again before it loads a version: room for a crowded two-core machine.
        CHORUS_MODULE_SELF_TEST_MS: "15000",
      },
    });
    nc = await mesh.connect("hostile-modules-test"); // the operator identity: it alone may revoke keys
    registry = await ModuleRegistry.open(jetstream(nc));
    const verifier = new ModuleVerifier({
      trustedKeys: TrustedKeys.parse(readFileSync(keysFile, "utf8")),
      kinds: moduleKinds(),
      selfTestBudgetMs: 15_000,
      maxMemoryBytes: 256 * 1024 * 1024,
    });
    verifier.useRevocations(await KeyRevocations.open(registry.states, createLogger("hostile-test", "silent")));
    operations = new ModuleOperations(registry, verifier, "e2e@hostile");
    // Pods are filled once the gateway holds budget leases: the output faults below fire only on filled pods.
    const probe = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: mesh.gatewayUrl, interceptors: [withApiKey(mesh.credentials.decideKey)] }),
    );
    let filled = false;
    for (const until = Date.now() + 60_000; !filled && Date.now() < until; await sleep(200))
      filled = (await probe.decide(request(n++), { timeoutMs: 10_000 })).ads.length > 0;
    if (!filled) throw new Error("no Decide filled a pod within 60 s: the output faults could not fire");
    await publish("1.0.0", await buildKernelVariant(kernelVariants.build(1)));
    await operations.activate("kernel", "1.0.0", "baseline");
  }, 120_000);
  afterAll(async () => {
    console.log(
      `\ntime to containment (activation or revocation -> shared state without the version):\n${contained
        .map(([what, ms]) => `  ${what.padEnd(34)} ${ms}`)
        .join("\n")}\n`,
    );
    await nc?.close();
    await mesh?.stop();
  }, 60_000);

  /** Decides back to back with 6 callers until `until` resolves; every response and every error. */
  async function load(until: Promise<unknown>) {
    const client = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: mesh.gatewayUrl, interceptors: [withApiKey(mesh.credentials.decideKey)] }),
    );
    const responses: DecideResponse[] = [];
    const failures: unknown[] = [];
    let running = true;
    void until.finally(() => {
      running = false;
    });
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (running) {
          try {
            responses.push(await client.decide(request(n++), { timeoutMs: 10_000 }));
          } catch (err) {
            failures.push(err);
          }
        }
      }),
    );
    return { responses, failures };
  }
  const kernelVersion = (r: DecideResponse) => r.moduleVersions.find((m) => m.module === "kernel")?.version;

  /** Activates `version` under load; resolves when the shared state no longer names it. */
  async function activateUntilRolledBack(version: string, timeoutMs = 60_000) {
    const started = { at: 0 };
    const rolledBack = (async () => {
      await sleep(300);
      await operations.activate("kernel", version, "hostile");
      started.at = Date.now();
      for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(50)) {
        const state = await operations.state("kernel");
        if (state.activeVersion !== version) return { state, ms: Date.now() - started.at };
      }
      throw new Error(`${version} still active after ${timeoutMs} ms`);
    })();
    const { responses, failures } = await load(rolledBack.then(() => sleep(500)).catch(() => {}));
    const filled = responses.filter((r) => r.ads.length > 0).length;
    const { state, ms } = await rolledBack.catch((err: Error) => {
      throw new Error(`${err.message} (${filled} of ${responses.length} decisions filled a pod)`);
    });
    return { responses, failures, state, ms, filled };
  }

  const cases = [
    ["a rare hang", "2.0.1", kernelVariants.hangEvery(EVERY), /^hangs: active 2\.0\.1 hung or trapped 3 times/],
    ["a rare NaN price", "2.0.2", kernelVariants.nanEvery(EVERY), /^output: .*prices\[0\] is NaN/],
    [
      "a winner index out of range",
      "2.0.3",
      kernelVariants.indexOutOfRangeEvery(EVERY),
      /^output: .*winner 0 is candidate \d+, outside/,
    ],
    ["a price above the bid", "2.0.4", kernelVariants.overBidEvery(EVERY), /^output: .*priced .* outside reserve/],
    ["a vetoed winner", "2.0.5", kernelVariants.vetoedWinnerEvery(EVERY), /^output: .*is vetoed/],
    // Its calls trap once memory.grow fails at the cap; on a crowded machine a grow-heavy call may pass its time
    // limit first: either way the hang or probation rule contains it.
    [
      "unbounded memory growth (capped)",
      "2.0.6",
      kernelVariants.growMemory(),
      /^(probation|hangs): .*(KernelTrapError|Trap|KernelTimeoutError)/,
    ],
  ] as const;
  for (const [what, version, source, reason] of cases) {
    it(`mesh - ${what}: contained, zero failed decisions, rolled back`, async () => {
      await publish(version, await buildKernelVariant(source)); // passes every check at the door
      const { responses, failures, state, ms, filled } = await activateUntilRolledBack(version);
      contained.push([
        what,
        `${ms} ms (${state.history.at(-1)?.reason.split(":")[0]} rule; ${filled} of ${responses.length} pods filled)`,
      ]);
      expect(failures).toEqual([]);
      expect(responses.length).toBeGreaterThan(0);
      const last = state.history.at(-1)!;
      expect(last).toMatchObject({ action: ModuleStateChange_Action.AUTO_ROLLBACK, version });
      expect(last.reason).toMatch(reason);
      // The decisions the module failed were decided by a fallback and say so.
      const degraded = responses.filter((r) => r.degradedAgents.some((d) => d.agent === "kernel"));
      expect(degraded.length).toBeGreaterThan(0);
      expect(degraded.every((r) => kernelVersion(r) !== version)).toBe(true);
    }, 120_000);
  }

  it("mesh - unbounded memory growth with no declared maximum is refused at publication", async () => {
    const t0 = Date.now();
    const err = await publish("2.0.7", await buildKernelVariant(kernelVariants.growMemory(), [UNBOUNDED_MEMORY])).catch(
      (e: unknown) => e,
    );
    contained.push(["unbounded memory (no maximum)", `refused at publish (${Date.now() - t0} ms incl. build)`]);
    expect((err as ModuleRejectedError).reason).toBe("unbounded_memory");
  }, 60_000);

  it("mesh - a key revoked while its module is active: rolled back in every process, later modules refused", async () => {
    await publish("2.1.0", await buildKernelVariant(kernelVariants.build(21)), doomed);
    const revokedAt = { at: 0 };
    const done = (async () => {
      await operations.activate("kernel", "2.1.0", "signed by the doomed key");
      await sleep(1_500); // serve with it a while
      revokedAt.at = Date.now();
      await KeyRevocations.revoke(registry.states, {
        keyId: doomed.keyId,
        reason: "key leaked",
        actor: "e2e@operator",
        at: new Date().toISOString(),
      });
      for (const until = Date.now() + 20_000; Date.now() < until; await sleep(50)) {
        const state = await operations.state("kernel");
        if (state.activeVersion !== "2.1.0") return { state, ms: Date.now() - revokedAt.at };
      }
      throw new Error("2.1.0 still active after its key was revoked");
    })();
    const { responses, failures } = await load(done.then(() => sleep(1_500)).catch(() => {}));
    const { state, ms } = await done;
    contained.push(["a revoked key (active module)", `${ms} ms`]);
    expect(failures).toEqual([]);
    expect(responses.some((r) => kernelVersion(r) === "2.1.0")).toBe(true);
    expect(state.history.at(-1)).toMatchObject({ action: ModuleStateChange_Action.AUTO_ROLLBACK, version: "2.1.0" });
    expect(state.history.at(-1)!.reason).toMatch(/^key: .*revoked_key.*key leaked/);
    // After the revocation no response names it (the tail of the load ran 1.5 s past the rollback).
    expect(kernelVersion(responses.at(-1)!)).not.toBe("2.1.0");
    const refused = await publish("2.1.1", await buildKernelVariant(kernelVariants.build(22)), doomed).catch(
      (e: unknown) => e,
    );
    expect((refused as ModuleRejectedError).reason).toBe("revoked_key");
  }, 120_000);

  it("mesh - a module signed by an expired key is refused", async () => {
    const t0 = Date.now();
    const err = await publish("2.2.0", await buildKernelVariant(kernelVariants.build(23)), expired).catch(
      (e: unknown) => e,
    );
    contained.push(["an expired key", `refused at publish (${Date.now() - t0} ms incl. build)`]);
    expect(err).toBeInstanceOf(ModuleRejectedError);
    expect((err as ModuleRejectedError).reason).toBe("expired_key");
    expect((err as Error).message).toMatch(/expired at 2020-01-01T00:00:00\.000Z/);
  }, 60_000);

  it("mesh - a downgrade needs the explicit flag and is recorded", async () => {
    await publish("1.5.0", await buildKernelVariant(kernelVariants.build(15)));
    const before = await operations.state("kernel");
    const t0 = Date.now();
    const err = await operations.activate("kernel", "1.5.0", "old build").catch((e: unknown) => e);
    contained.push(["a downgrade", `refused at activation (${Date.now() - t0} ms)`]);
    expect((err as Error).message).toMatch(/downgrade refused: 1\.5\.0 is older than 2\.1\.0/);
    expect((await operations.state("kernel")).revision).toBe(before.revision);
    const { failures } = await load(
      (async () => {
        await sleep(300);
        const state = await operations.activate("kernel", "1.5.0", "known-good build, on purpose", true);
        expect(state.history.at(-1)).toMatchObject({ action: ModuleStateChange_Action.ACTIVATE, downgrade: true });
        await sleep(700);
      })(),
    );
    expect(failures).toEqual([]);
  }, 60_000);
});
