/**
 * The memory cap is on by default for every module kind: a verifier built from the default configuration (as the
 * gateway, the agent hosts and the CLI build theirs) accepts every shipped build (each declares its maximum) and
 * refuses the same module of any kind once it declares none.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { signManifest } from "../../modules/manifest-signature.ts";
import { loadModuleConfig } from "../../modules/module-config.ts";
import type { ModuleRejectedError } from "../../modules/module-rejected-error.ts";
import { ModuleVerifier } from "../../modules/module-verifier.ts";
import { generateSigningKey, parsePrivateKey } from "../../modules/signing-keys.ts";
import { agentVariants, buildAgentVariant } from "../../modules/testing/agent-variants.ts";
import { buildKernelVariant, kernelVariants, UNBOUNDED_MEMORY } from "../../modules/testing/kernel-variants.ts";
import { readAgentScoringWasm, SCORING_AGENTS } from "../../wasm-core/src/agent-scoring-abi.ts";
import { readKernelWasm } from "../../wasm-core/src/kernel-wasm.ts";
import { agentModuleName } from "./agent-scorings.ts";
import { moduleKinds } from "./module-kinds.ts";

describe("memory cap by default", () => {
  it("memory cap - the default configuration refuses a module of every kind that declares no maximum, and accepts the shipped builds", async () => {
    const key = generateSigningKey();
    const keysFile = join(mkdtempSync(join(tmpdir(), "chorus-memory-")), "trusted.pem");
    writeFileSync(keysFile, key.publicKeyPem);
    const config = loadModuleConfig({ CHORUS_TRUSTED_KEYS: keysFile }); // every other setting at its default
    expect(config.maxMemoryMb).toBe(256);
    const kinds = moduleKinds();
    const verifier = ModuleVerifier.fromConfig(config, kinds);
    const check = (module: string, bytes: Uint8Array) =>
      verifier
        .verify(
          bytes,
          signManifest(
            bytes,
            { module, version: "1.0.0", abiVersion: kinds[module]!.abiVersion, author: "test" },
            parsePrivateKey(key.privateKeyPem),
          ),
          undefined,
          { selfTest: false }, // the memory check comes before; the self-tests are shown elsewhere
        )
        .then(
          () => "accepted",
          (err: ModuleRejectedError) => err.reason,
        );

    const modules: Array<[string, Uint8Array, Promise<Uint8Array>]> = [
      ["kernel", readKernelWasm("simd"), buildKernelVariant(kernelVariants.build(7), [UNBOUNDED_MEMORY])],
      ...SCORING_AGENTS.map(
        (agent) =>
          [
            agentModuleName(agent),
            readAgentScoringWasm(agent),
            buildAgentVariant(agent, agentVariants.build(agent, 7), [UNBOUNDED_MEMORY]),
          ] as [string, Uint8Array, Promise<Uint8Array>],
      ),
    ];
    expect(modules.map(([m]) => m).sort()).toEqual(Object.keys(kinds).sort()); // every kind there is
    for (const [module, shipped, unbounded] of modules) {
      expect([module, await check(module, shipped)]).toEqual([module, "accepted"]);
      expect([module, await check(module, await unbounded)]).toEqual([module, "unbounded_memory"]);
    }
  }, 120_000);
});
