/**
 * Signing-key lifecycle against real NATS and a real "gateway process" (ModuleWatcher + ModuleRouter over
 * KernelPools): N-of-M signatures (N-1 refused, a cosignature that cannot count refused at the door, revoking one
 * of the N rolls the version back where it runs), and a key that expires while its version is active (rolled
 * back on every process when the key expires, with the reason in the history).
 */
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModuleStateChange_Action as Action } from "../gen/chorus/v1/module_pb.ts";
import { createLogger } from "../lib/log/logger.ts";
import { type NatsFixture, startNats } from "../lib/testing/nats-fixture.ts";
import { KERNEL_ABI_VERSION, readKernelWasm } from "../wasm-core/src/mod.ts";
import { kernelModuleKind } from "./kernel-module-kind.ts";
import { KeyRevocations } from "./key-revocations.ts";
import { cosignManifest, signManifest } from "./manifest-signature.ts";
import { ModuleOperations } from "./module-operations.ts";
import { ModuleRegistry } from "./module-registry.ts";
import type { ModuleRejectedError } from "./module-rejected-error.ts";
import { ModuleVerifier } from "./module-verifier.ts";
import { serveRollbackRequests } from "./rollback-requests.ts";
import { generateSigningKey, parsePrivateKey, type SigningKeyPair, TrustedKeys } from "./signing-keys.ts";
import { type KernelModules, startKernelModules } from "./start-kernel-modules.ts";
import { CAPACITY, eventually, inventory, testConfig } from "./testing/hot-swap-fixture.ts";

const logger = createLogger("key-lifecycle-test", process.env.LOG_LEVEL ?? "silent");
const bytes = readKernelWasm("simd");
const [alice, bob, carol, mallory] = [
  generateSigningKey(),
  generateSigningKey(),
  generateSigningKey(),
  generateSigningKey(),
];
const reason = (err: unknown) => (err as ModuleRejectedError).reason;

let nats: NatsFixture;
let registry: ModuleRegistry;
let steward: { unsubscribe(): void };
const processes: KernelModules[] = [];

beforeAll(async () => {
  nats = await startNats();
  registry = await ModuleRegistry.open(nats.js);
  // The operator side writes module state; processes ask it to roll back (rollback-requests.ts).
  steward = serveRollbackRequests(nats.nc, registry, logger);
});
afterAll(async () => {
  await Promise.allSettled(processes.map((p) => p.close()));
  steward?.unsubscribe();
  await nats?.cleanup();
});

/** A verifier over `keysText` (trusted-keys file format) that needs `required` distinct signers, and its ops. */
async function setup(keysText: string, required: number, module = "kernel") {
  const verifier = new ModuleVerifier({
    trustedKeys: TrustedKeys.parse(keysText),
    kinds: { [module]: kernelModuleKind },
    selfTestBudgetMs: testConfig.selfTestBudgetMs,
    requiredSignatures: required,
  });
  verifier.useRevocations(await KeyRevocations.open(registry.states, logger));
  return { verifier, operations: new ModuleOperations(registry, verifier, "test@keys") };
}

const publishOptions = (version: string, signer: SigningKeyPair, cosigners: SigningKeyPair[] = []) => ({
  module: "kernel",
  version,
  abiVersion: KERNEL_ABI_VERSION,
  privateKey: parsePrivateKey(signer.privateKeyPem),
  cosignKeys: cosigners.map((k) => parsePrivateKey(k.privateKeyPem)),
  author: "test@keys",
});

async function startProcess(name: string, verifier: ModuleVerifier): Promise<KernelModules> {
  const nc = await nats.connect(name);
  const process = await startKernelModules({
    js: jetstream(nc),
    nc,
    config: testConfig,
    actor: name,
    logger,
    pool: { capacity: CAPACITY, size: 1, callTimeoutMs: 2_000 },
    verifier,
    initial: { version: "builtin", bytes },
  });
  process.router.setInventory(inventory);
  processes.push(process);
  return process;
}

describe("signing keys: N of M, expiry", () => {
  it("keys - 2 of 3 trusted keys: one signature is refused, a cosignature that cannot count is refused, two run; revoking one rolls it back", async () => {
    const { verifier, operations } = await setup([alice, bob, carol].map((k) => k.publicKeyPem).join(""), 2);
    await operations.publish(bytes, publishOptions("1.0.0", alice, [bob]));
    await operations.activate("kernel", "1.0.0", "two signers");
    const gateway = await startProcess("gateway-quorum", verifier);
    expect(gateway.router.activeVersion).toBe("1.0.0");

    // N-1: stored (a cosigner adds theirs later), but no role.
    await operations.publish(bytes, publishOptions("1.1.0", alice));
    const alone = await operations.activate("kernel", "1.1.0").catch((e: unknown) => e);
    expect(reason(alone)).toBe("insufficient_signatures");
    expect((alone as Error).message).toMatch(/signed by 1 of the 2 distinct trusted keys required/);
    // The same key twice is one signer; an untrusted key's signature is refused at the door, not stored.
    await operations.cosign("kernel", "1.1.0", parsePrivateKey(alice.privateKeyPem));
    expect(reason(await operations.activate("kernel", "1.1.0").catch((e: unknown) => e))).toBe(
      "insufficient_signatures",
    );
    const untrusted = await operations
      .cosign("kernel", "1.1.0", parsePrivateKey(mallory.privateKeyPem))
      .catch((e: unknown) => e);
    expect(reason(untrusted)).toBe("untrusted_key");
    // A forged cosignature (right key id, wrong bytes) does not count either.
    const stored = (await registry.manifest("kernel", "1.1.0"))!;
    const forged = cosignManifest(stored, parsePrivateKey(carol.privateKeyPem));
    forged.cosignatures.at(-1)!.signature = signManifest(
      bytes,
      { ...publishOptions("9.9.9", carol) },
      parsePrivateKey(carol.privateKeyPem),
    ).signature;
    const refused = await verifier
      .verify(bytes, forged, { module: "kernel", version: "1.1.0" })
      .catch((e: unknown) => e);
    expect(reason(refused)).toBe("insufficient_signatures");
    expect((refused as Error).message).toMatch(/bad signature/);
    // A second trusted key: it may take a role, and the process runs it.
    await operations.cosign("kernel", "1.1.0", parsePrivateKey(carol.privateKeyPem));
    await operations.activate("kernel", "1.1.0", "alice and carol");
    await eventually(() => (gateway.router.activeVersion === "1.1.0" ? true : undefined));

    // Carol's key is revoked: 1.1.0 keeps one valid signature of the two required, and is rolled back where it runs.
    const t0 = Date.now();
    await KeyRevocations.revoke(registry.states, { keyId: carol.keyId, reason: "laptop lost", actor: "test", at: "" });
    const last = await eventually(async () => {
      const state = await operations.state("kernel");
      return state.activeVersion === "1.1.0" ? undefined : state.history.at(-1);
    });
    console.log(`cosigner revoked: 1.1.0 rolled back ${Date.now() - t0} ms later`);
    expect(last).toMatchObject({ action: Action.AUTO_ROLLBACK, version: "1.1.0" });
    expect(last.reason).toMatch(/^key: .*insufficient_signatures.*signed by 1 of the 2.*revoked/);
    await eventually(() => (gateway.router.activeVersion === "1.0.0" ? true : undefined));
    await gateway.close(); // the next test's processes need one signature: one configuration per mesh
  }, 60_000);

  it("keys - a key that expires while its version is active: rolled back when it expires, reason in the history", async () => {
    const module = "kernel";
    // Bob's key expires EXPIRY_MS after the process and the tools started with it; Alice's does not. One verifier
    // for both (the self-test then runs once per version, which keeps the work before the expiry short).
    const EXPIRY_MS = 25_000;
    const expiresAt = Date.now() + EXPIRY_MS;
    const keys = `${alice.publicKeyPem}expires ${new Date(expiresAt).toISOString()}\n${bob.publicKeyPem}`;
    const { verifier, operations } = await setup(keys, 1);
    await operations.publish(bytes, publishOptions("2.0.0", alice));
    await operations.activate(module, "2.0.0", "signed by a key that does not expire");
    const gateway = await startProcess("gateway-expiry", verifier);
    await operations.publish(bytes, publishOptions("2.1.0", bob));
    await operations.activate(module, "2.1.0", "signed by the expiring key");
    await eventually(() => (gateway.router.activeVersion === "2.1.0" ? true : undefined));
    // Else this test proves nothing: the key expired before the version ran (a very slow machine).
    expect(Date.now(), `the work before the expiry took more than ${EXPIRY_MS} ms`).toBeLessThan(expiresAt);
    const last = await eventually(
      async () => {
        const state = await operations.state(module);
        return state.activeVersion === "2.1.0" ? undefined : state.history.at(-1);
      },
      expiresAt - Date.now() + 20_000,
    ); // until the expiry, then 20 s for the rollback
    const late = Date.now() - expiresAt;
    console.log(`expired key: 2.1.0 rolled back ${late} ms after its key expired`);
    expect(late).toBeGreaterThanOrEqual(0);
    expect(last).toMatchObject({ action: Action.AUTO_ROLLBACK, version: "2.1.0" });
    expect(last.reason).toMatch(/^key: .*expired_key.*expired at/);
    await eventually(() => (gateway.router.activeVersion === "2.0.0" ? true : undefined));
    // And it may not come back.
    expect(reason(await operations.activate(module, "2.1.0", "", true).catch((e: unknown) => e))).toBe("expired_key");
  }, 60_000);
});
