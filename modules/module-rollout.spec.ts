import { describe, expect, it } from "vitest";
import { readKernelWasm } from "../wasm-core/src/mod.ts";
import { signManifest } from "./manifest-signature.ts";
import { ModuleRejectedError, type RejectionReason } from "./module-rejected-error.ts";
import { generateSigningKey, parsePrivateKey } from "./signing-keys.ts";
import { hotSwapBenchPerFile } from "./testing/bench-per-file.ts";
import { buildKernelVariant, kernelVariants } from "./testing/kernel-variants.ts";

const bench = hotSwapBenchPerFile();

async function reasonOf(promise: Promise<unknown>): Promise<RejectionReason> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(ModuleRejectedError);
  return (error as ModuleRejectedError).reason;
}

describe("module rollout", () => {
  it("module rollout - every refused publish stores nothing and leaves the active version untouched", async () => {
    const before = await bench.operations.state("kernel");
    const cases: Array<[string, string, RejectionReason]> = [
      ["forbidden import", kernelVariants.forbiddenImport(), "forbidden_import"],
      ["missing export", kernelVariants.missingExport(), "missing_export"],
      ["other ABI", kernelVariants.abiTwo(), "abi_mismatch"],
      ["wrong decisions", kernelVariants.ignoreVetoes(), "self_test_failed"],
      ["trap", kernelVariants.trapAlways(), "self_test_failed"],
      ["loop", kernelVariants.loopAlways(), "self_test_timeout"],
    ];
    for (const [name, source, reason] of cases) {
      const version = `9.0.${cases.findIndex((c) => c[0] === name)}`;
      expect(await reasonOf(bench.publish(version, source)), name).toBe(reason);
      expect(await bench.registry.manifest("kernel", version), name).toBeUndefined();
    }
    const invalid = bench.operations.publish(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1]), {
      module: "kernel",
      version: "9.1.0",
      abiVersion: 1,
      privateKey: parsePrivateKey(generateSigningKey().privateKeyPem),
      author: "test",
    });
    // Signed by an untrusted key: the signature check comes first.
    expect(await reasonOf(invalid)).toBe("untrusted_key");
    expect(await bench.operations.state("kernel")).toEqual(before);
  });

  it("module rollout - activating a stored version that fails a check changes nothing and says why", async () => {
    const before = await bench.operations.state("kernel");
    // Stored around the checks, as a compromised or careless publisher could.
    const bytes = readKernelWasm("simd");
    const rogue = signManifest(
      bytes,
      { module: "kernel", version: "7.0.0", abiVersion: 1, author: "mallory" },
      parsePrivateKey(generateSigningKey().privateKeyPem),
    );
    await bench.registry.publish(bytes, rogue);
    const good = (await bench.registry.manifest("kernel", "1.0.0"))!;
    await bench.registry.publish(bytes, { ...good, version: "7.0.1" }); // 1.0.0's signature, relabelled
    const other = await buildKernelVariant(kernelVariants.build(7));
    await bench.registry.publish(other, bench.sign(bytes, "7.0.2")); // signed for other bytes
    const invalid = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0xff]);
    await bench.registry.publish(invalid, bench.sign(invalid, "7.0.3"));

    expect(await reasonOf(bench.operations.activate("kernel", "7.0.0"))).toBe("untrusted_key");
    expect(await reasonOf(bench.operations.activate("kernel", "7.0.1"))).toBe("bad_signature");
    expect(await reasonOf(bench.operations.activate("kernel", "7.0.2"))).toBe("digest_mismatch");
    expect(await reasonOf(bench.operations.canary("kernel", "7.0.3", 10))).toBe("invalid_wasm");
    expect(await reasonOf(bench.operations.shadow("kernel", "8.8.8"))).toBe("not_found");
    expect(await bench.operations.state("kernel")).toEqual(before);
  });
});
