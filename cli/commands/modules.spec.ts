import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey } from "../../modules/signing-keys.ts";
import { type HotSwapBench, startHotSwapBench } from "../../modules/testing/hot-swap-fixture.ts";
import { buildKernelVariant, kernelVariants } from "../../modules/testing/kernel-variants.ts";

let bench: HotSwapBench;
/** Each CLI process self-tests what it publishes: room for a crowded two-core machine. */
const SELF_TEST_MS = "15000";

beforeAll(async () => {
  bench = await startHotSwapBench();
  await bench.publish("1.0.0", kernelVariants.build(1));
  await bench.operations.activate("kernel", "1.0.0");
});
afterAll(() => bench?.cleanup());

describe("chorus modules", () => {
  // Six CLI processes, each starting tsx and (for publish) a self-test worker pool: slow on a shared machine.
  it("chorus modules - publishes, activates and lists in a table; a refused publish exits 1 with the reason", {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "chorus-cli-"));
    const env = {
      ...process.env,
      NATS_URL: bench.nats.server.url,
      CHORUS_TRUSTED_KEYS: join(dir, "trusted.pub"),
      CHORUS_MODULE_SELF_TEST_MS: SELF_TEST_MS,
    };
    const chorus = (...args: string[]) =>
      promisify(execFile)(process.execPath, ["--import", "tsx", "cli/chorus.ts", "modules", ...args], { env }).then(
        (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
      );

    expect((await chorus("keygen", "--out", join(dir, "release"))).code).toBe(0);
    writeFileSync(env.CHORUS_TRUSTED_KEYS, readFileSync(join(dir, "release.pub")));
    writeFileSync(join(dir, "good.wasm"), await buildKernelVariant(kernelVariants.build(11)));
    writeFileSync(join(dir, "bad.wasm"), await buildKernelVariant(kernelVariants.forbiddenImport()));
    const key = join(dir, "release.key");

    const [published, refused] = await Promise.all([
      chorus("publish", join(dir, "good.wasm"), "--version", "4.0.0", "--key", key, "--notes", "cli build"),
      chorus("publish", join(dir, "bad.wasm"), "--version", "4.0.1", "--key", key),
    ]);
    expect(published).toMatchObject({ code: 0, err: "" });
    expect(published.out).toMatch(/published kernel 4\.0\.0 .*sha256 [0-9a-f]{64}/);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/rejected \(forbidden_import\): imports wasi_snapshot_preview1\.proc_exit/);
    expect(refused.err).toMatch(/nothing changed: kernel: active 1\.0\.0/);

    const activated = await chorus("activate", "4.0.0", "--reason", "cli test");
    expect(activated.out).toMatch(/activated: kernel: active 4\.0\.0, previous 1\.0\.0/);
    // A process that trusts only the bench's key, not the one made above: it refuses 4.0.0 and keeps its
    // built-in module, and its report (written every 200 ms) says so.
    await bench.startProcess("gateway-cli");
    const [list, report] = await Promise.all([chorus("list"), chorus("report")]);
    expect(report.out).toMatch(/^PROCESS\s+AGE\s+ACTIVE\s+CANARY\s+SHADOW/m);
    expect(report.out).toMatch(/^gateway-cli\s+\d+s\s+builtin \(0 calls\)/m);
    expect(list.out).toMatch(/^MODULE\s+VERSION\s+ROLE\s+ABI\s+SHA256/m);
    expect(list.out).toMatch(/^kernel\s+1\.0\.0\s+previous\s/m);
    expect(list.out).toMatch(/^kernel\s+4\.0\.0\s+active\s+1\s+[0-9a-f]{12}….*cli build$/m);
    expect(list.out).not.toMatch(/4\.0\.1/);
    expect(list.out).toMatch(/activate 4\.0\.0 by .*: cli test/);
  });

  it("chorus modules - 2 of 2 signatures: activation with one is refused; cosign adds the second", {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "chorus-cli-"));
    const env = {
      ...process.env,
      NATS_URL: bench.nats.server.url,
      CHORUS_TRUSTED_KEYS: join(dir, "trusted.pub"),
      CHORUS_MODULE_SIGNATURES_REQUIRED: "2",
      CHORUS_MODULE_SELF_TEST_MS: SELF_TEST_MS,
    };
    const chorus = (...args: string[]) =>
      promisify(execFile)(process.execPath, ["--import", "tsx", "cli/chorus.ts", "modules", ...args], { env }).then(
        (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
      );
    // Keys made here, not by two more CLI processes (keygen is shown above).
    const [a, b] = [generateSigningKey(), generateSigningKey()];
    writeFileSync(join(dir, "a.key"), a.privateKeyPem);
    writeFileSync(join(dir, "b.key"), b.privateKeyPem);
    writeFileSync(env.CHORUS_TRUSTED_KEYS, a.publicKeyPem + b.publicKeyPem);
    writeFileSync(join(dir, "m.wasm"), await buildKernelVariant(kernelVariants.build(12)));

    expect((await chorus("publish", join(dir, "m.wasm"), "--version", "5.0.0", "--key", join(dir, "a.key"))).code).toBe(
      0,
    );
    const one = await chorus("activate", "5.0.0");
    expect(one.code).toBe(1);
    expect(one.err).toMatch(/rejected \(insufficient_signatures\): signed by 1 of the 2 distinct trusted keys/);
    const cosigned = await chorus("cosign", "5.0.0", "--key", join(dir, "b.key"));
    expect(cosigned).toMatchObject({ code: 0, err: "" });
    expect(cosigned.out).toMatch(/kernel 5\.0\.0 now signed by 2 keys/);
    expect((await chorus("activate", "5.0.0")).out).toMatch(/activated: kernel: active 5\.0\.0/);
  });
});
