import { describe, expect, it } from "vitest";
import { readKernelWasm } from "../wasm-core/src/mod.ts";
import { kernelModuleKind } from "./kernel-module-kind.ts";
import { signManifest } from "./manifest-signature.ts";
import { ModuleRejectedError, type RejectionReason } from "./module-rejected-error.ts";
import { ModuleVerifier } from "./module-verifier.ts";
import { generateSigningKey, parsePrivateKey, TrustedKeys } from "./signing-keys.ts";
import { buildKernelVariant, kernelVariants } from "./testing/kernel-variants.ts";

const trusted = generateSigningKey();
const stranger = generateSigningKey();
const verifier = new ModuleVerifier({
  trustedKeys: TrustedKeys.parse(trusted.publicKeyPem),
  kinds: { kernel: kernelModuleKind },
  selfTestBudgetMs: 4_000,
});
const sign = (bytes: Uint8Array, version = "1.0.0", key = trusted) =>
  signManifest(bytes, { module: "kernel", version, abiVersion: 1, author: "test" }, parsePrivateKey(key.privateKeyPem));

async function rejection(promise: Promise<void>): Promise<RejectionReason> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(ModuleRejectedError);
  return (error as ModuleRejectedError).reason;
}

describe("module verifier", () => {
  it("module verifier - accepts the shipped kernel and a rebuilt variant signed by a trusted key", async () => {
    const shipped = readKernelWasm("simd");
    await verifier.verify(shipped, sign(shipped), { module: "kernel", version: "1.0.0" });
    const rebuilt = await buildKernelVariant(kernelVariants.build(2));
    await verifier.verify(rebuilt, sign(rebuilt, "1.1.0"));
  });

  it("module verifier - refuses an untrusted key, a forged signature, other bytes and a renamed manifest", async () => {
    const bytes = readKernelWasm("simd");
    expect(await rejection(verifier.verify(bytes, sign(bytes, "1.0.0", stranger)))).toBe("untrusted_key");
    const forged = { ...sign(bytes), notes: "changed after signing" };
    expect(await rejection(verifier.verify(bytes, forged))).toBe("bad_signature");
    const other = await buildKernelVariant(kernelVariants.build(3));
    expect(await rejection(verifier.verify(other, sign(bytes)))).toBe("digest_mismatch");
    expect(await rejection(verifier.verify(bytes, sign(bytes), { module: "kernel", version: "2.0.0" }))).toBe(
      "invalid_manifest",
    );
  });

  it("module verifier - refuses invalid bytes, imports, a start function, missing exports and another ABI", async () => {
    const garbage = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0xff, 0xff]);
    expect(await rejection(verifier.verify(garbage, sign(garbage)))).toBe("invalid_wasm");
    const cases: Array<[string, RejectionReason]> = [
      [kernelVariants.forbiddenImport(), "forbidden_import"],
      [kernelVariants.startLoop(), "start_function"],
      [kernelVariants.missingExport(), "missing_export"],
      [kernelVariants.abiTwo(), "abi_mismatch"],
    ];
    for (const [source, reason] of cases) {
      const bytes = await buildKernelVariant(source);
      expect(await rejection(verifier.verify(bytes, sign(bytes)))).toBe(reason);
    }
  });

  it("module verifier - a module that decides wrongly, traps or loops fails its self-test within the budget", async () => {
    const cases: Array<[string, RejectionReason]> = [
      [kernelVariants.ignoreVetoes(), "self_test_failed"],
      [kernelVariants.trapAlways(), "self_test_failed"],
      [kernelVariants.loopAlways(), "self_test_timeout"],
    ];
    for (const [source, reason] of cases) {
      const bytes = await buildKernelVariant(source);
      const started = Date.now();
      expect(await rejection(verifier.verify(bytes, sign(bytes)))).toBe(reason);
      expect(Date.now() - started).toBeLessThan(8_000);
    }
  });

  it("module verifier - with a memory limit, refuses modules that may grow past it or declare no maximum", async () => {
    const bounded = new ModuleVerifier({
      trustedKeys: TrustedKeys.parse(trusted.publicKeyPem),
      kinds: { kernel: kernelModuleKind },
      selfTestBudgetMs: 4_000,
      maxMemoryBytes: 64 * 1024 * 1024,
    });
    // 1024 pages = 64 MiB: room for the golden cases' capacity, and memory.grow fails beyond it.
    const capped = await buildKernelVariant(kernelVariants.build(5), ["--maximumMemory", "1024"]);
    await bounded.verify(capped, sign(capped, "1.5.0"));
    const large = await buildKernelVariant(kernelVariants.build(5), ["--maximumMemory", "2048"]);
    expect(await rejection(bounded.verify(large, sign(large, "1.5.1")))).toBe("unbounded_memory");
    const shipped = readKernelWasm("simd");
    expect(await rejection(bounded.verify(shipped, sign(shipped, "1.5.2")))).toBe("unbounded_memory");
  });
});
