import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsFixture, startNats } from "../../lib/testing/nats-fixture.ts";
import { kernelModuleKind } from "../../modules/kernel-module-kind.ts";
import { signManifest } from "../../modules/manifest-signature.ts";
import { ModuleRegistry } from "../../modules/module-registry.ts";
import { ModuleRejectedError } from "../../modules/module-rejected-error.ts";
import { ModuleVerifier } from "../../modules/module-verifier.ts";
import { generateSigningKey, parsePrivateKey, type SigningKeyPair, TrustedKeys } from "../../modules/signing-keys.ts";
import { buildKernelVariant, kernelVariants } from "../../modules/testing/kernel-variants.ts";
import { DecisionLog, loadDecisionLogConfig, readDecisionRecord } from "../../telemetry/decision-log.ts";
import { builtinKernel, KERNEL_MODULE } from "../../telemetry/kernel-source.ts";
import { createChorusMetrics } from "../../telemetry/metrics.ts";
import { replayDecision } from "../../telemetry/replay.ts";
import { sampleDecision } from "../../telemetry/testing/sample-decision.ts";
import { KERNEL_ABI_VERSION } from "../../wasm-core/src/kernel-abi.ts";
import { buildProgram } from "../chorus.ts";
import { runReplay } from "./replay.ts";

const run = promisify(execFile);

const FIRST_PRICE = `import { decide as kernelDecide } from "../kernel";
export { ABI_VERSION, KERNEL_SIMD, MAX_ADS, configure, regionOffset } from "../kernel";
export function decide(n: i32, d: i32, a: i32, rw: f32, reserve: f32, _auction: i32, k: i32, ms: i32): i32 {
  return kernelDecide(n, d, a, rw, reserve, 1, k, ms);
}`;

const trusted = generateSigningKey();
const verifier = new ModuleVerifier({
  trustedKeys: TrustedKeys.parse(trusted.publicKeyPem),
  kinds: { [KERNEL_MODULE]: kernelModuleKind },
  selfTestBudgetMs: 2_000,
});
const sign = (bytes: Uint8Array, version: string, key: SigningKeyPair = trusted) =>
  signManifest(
    bytes,
    { module: KERNEL_MODULE, version, abiVersion: KERNEL_ABI_VERSION, author: "spec" },
    parsePrivateKey(key.privateKeyPem),
  );

describe("replay", () => {
  let nats: NatsFixture;
  const ids: string[] = [];

  beforeAll(async () => {
    nats = await startNats();
    const log = await DecisionLog.open(nats.nc, nats.js, {
      config: loadDecisionLogConfig({ CHORUS_PSEUDONYM_SALT: "s", DECISION_LOG_SAMPLE_RATE: "1" }),
      metrics: createChorusMetrics(),
      logger: pino({ level: "silent" }),
      gateway: "spec",
    });
    for (const seed of [11, 12]) {
      const entry = await sampleDecision({ seed });
      log.append(entry);
      ids.push(entry.decisionId);
    }
    await log.flush();
    // A second published kernel version: the real kernel with the auction forced to first price, signed by a key
    // the replay trusts (stored around the self-test, which it would fail: it decides differently on purpose).
    const registry = await ModuleRegistry.open(jetstream(nats.nc));
    const firstPrice = await buildKernelVariant(FIRST_PRICE);
    await registry.publish(firstPrice, sign(firstPrice, "2.0.0"));
    // Bytes swapped after signing: the digest no longer matches.
    await registry.publish(firstPrice, sign(await buildKernelVariant(kernelVariants.build(8)), "2.0.1"));
    // Signed by a key the replay does not trust.
    await registry.publish(firstPrice, sign(firstPrice, "2.0.3", generateSigningKey()));
  });
  afterAll(() => nats.cleanup());

  it("replay - a logged decision reproduces bit for bit with the kernel it was made with", async () => {
    const lines: string[] = [];
    const result = await runReplay(ids[0]!, { natsUrl: nats.server.url }, (l) => lines.push(l));
    expect(result.reproduced).toBe(true);
    expect(result.differences).toEqual([]);
    expect(result.replayed.count).toBeGreaterThan(0);
    expect(Array.from(result.replayed.indices)).toEqual(Array.from(result.recorded.indices));
    expect(lines.at(-1)).toMatch(/^REPRODUCED/);
  });

  it("replay - a one-ulp change in a recorded price is caught and named", async () => {
    const record = await readDecisionRecord(nats.nc, ids[1]!);
    // Prices are little-endian f32: flipping the first byte's lowest bit moves the first price by one ulp.
    record.kernelResult!.prices[0]! ^= 1;
    const result = replayDecision(record, builtinKernel());
    expect(result.reproduced).toBe(false);
    expect(result.differences).toHaveLength(1);
    expect(result.differences[0]).toMatch(/^price\[0\]: recorded .* \(0x[0-9a-f]{8}\), replayed/);
  });

  it("replay - --with-module shows what another kernel version would have decided", async () => {
    const lines: string[] = [];
    const result = await runReplay(ids[0]!, { natsUrl: nats.server.url, withModule: "2.0.0", verifier }, (l) =>
      lines.push(l),
    );
    expect(result.moduleVersion).toBe("2.0.0");
    expect(result.reproduced).toBe(false);
    expect(Array.from(result.replayed.indices)).toEqual(Array.from(result.recorded.indices));
    // Same ranks, so the same pod; first price charges each ad its whole value, at least the second price.
    for (let t = 0; t < result.replayed.count; t++) {
      expect(result.replayed.prices[t]!).toBeGreaterThanOrEqual(result.recorded.prices[t]!);
    }
    expect(result.differences.some((d) => d.startsWith("price["))).toBe(true);
    expect(lines).toContain("DIFFERENT: this kernel would have decided otherwise:");
  });

  it("replay - the scalar kernel build reproduces the SIMD build's decision (--module-file)", async () => {
    const file = new URL("../../wasm-core/build/kernel-scalar.wasm", import.meta.url).pathname;
    const result = await runReplay(ids[1]!, { natsUrl: nats.server.url, moduleFile: file }, () => {});
    expect(result.differences).toEqual([]);
  });

  it("replay - registry bytes are checked before they run: swapped bytes, an untrusted key, past the size cap", async () => {
    const refusal = async (version: string) => {
      const err = await runReplay(ids[0]!, { natsUrl: nats.server.url, withModule: version, verifier }, () => {}).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ModuleRejectedError);
      return (err as ModuleRejectedError).reason;
    };
    expect(await refusal("2.0.1")).toBe("digest_mismatch");
    expect(await refusal("2.0.3")).toBe("untrusted_key");
    const registry = await ModuleRegistry.open(jetstream(nats.nc));
    // An oversized object (17 MiB, stored around the checks with a manifest signed for it): refused from its stored
    // size, before a byte of it is fetched, let alone checked or run.
    const huge = new Uint8Array(17 * 1024 * 1024);
    await registry.publish(huge, sign(huge, "2.0.9"));
    expect(await refusal("2.0.9")).toBe("too_large");
    const err = await registry.bytes(KERNEL_MODULE, "2.0.0", 1_000).catch((e: unknown) => e);
    expect((err as ModuleRejectedError).reason).toBe("too_large");
    expect((err as Error).message).toMatch(/\d+ bytes; the cap is 1000/);
  });

  it("replay - an unknown kernel version or decision id is a clear error", async () => {
    await expect(
      runReplay(ids[0]!, { natsUrl: nats.server.url, withModule: "9.9.9", verifier }, () => {}),
    ).rejects.toThrow(/kernel version "9.9.9" is not in the module registry/);
    await expect(runReplay("nope", { natsUrl: nats.server.url }, () => {})).rejects.toThrow(/"nope" is not in/);
  });

  it("replay - the chorus command replays a decision; an unknown id is refused by name", async () => {
    const ok = await run(process.execPath, [
      "--import",
      "tsx",
      "cli/chorus.ts",
      "replay",
      ids[0]!,
      "--nats-url",
      nats.server.url,
    ]);
    expect(ok.stdout).toMatch(/REPRODUCED/);
    const program = await buildProgram();
    await expect(
      program.parseAsync(["replay", "missing-id", "--nats-url", nats.server.url], { from: "user" }),
    ).rejects.toThrow(/decision "missing-id" is not in the decision log/);
  });
});
