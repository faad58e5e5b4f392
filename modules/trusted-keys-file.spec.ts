/**
 * A running process follows its trusted-keys file: a key added is trusted, an expiry set applies, a file that no
 * longer parses changes nothing (real files, real ed25519 signatures, the shipped kernel).
 */
import { appendFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../lib/log/logger.ts";
import { KERNEL_ABI_VERSION, readKernelWasm } from "../wasm-core/src/mod.ts";
import { kernelModuleKind } from "./kernel-module-kind.ts";
import { signManifest } from "./manifest-signature.ts";
import { ModuleVerifier } from "./module-verifier.ts";
import { generateSigningKey, parsePrivateKey, TrustedKeys } from "./signing-keys.ts";
import { followTrustedKeys } from "./trusted-keys-file.ts";

const until = async (check: () => boolean, ms = 5_000) => {
  for (const end = Date.now() + ms; !check(); await new Promise((r) => setTimeout(r, 20)))
    if (Date.now() > end) throw new Error("not within time");
};

describe("trusted-keys file, followed while running", () => {
  let stop = () => {};
  afterEach(() => stop());

  it("keys - a key added is trusted and an expiry set applies without a restart; a broken file changes nothing", async () => {
    const first = generateSigningKey();
    const second = generateSigningKey();
    const file = join(mkdtempSync(join(tmpdir(), "chorus-keys-")), "trusted.pem");
    writeFileSync(file, first.publicKeyPem);
    const verifier = new ModuleVerifier({
      trustedKeys: TrustedKeys.load(file),
      kinds: { kernel: kernelModuleKind },
      selfTestBudgetMs: 5_000,
    });
    let changes = 0;
    stop = followTrustedKeys(file, [verifier], () => changes++, createLogger("test", "silent"), 100);
    const bytes = readKernelWasm("simd");
    const signed = signManifest(
      bytes,
      { module: "kernel", version: "1.0.0", abiVersion: KERNEL_ABI_VERSION, author: "test" },
      parsePrivateKey(second.privateKeyPem),
    );
    const outcome = () =>
      verifier.verify(bytes, signed, undefined, { selfTest: false }).then(
        () => "ok",
        (err: { reason?: string }) => err.reason,
      );
    expect(await outcome()).toBe("untrusted_key");

    appendFileSync(file, second.publicKeyPem);
    await until(() => changes === 1);
    expect(await outcome()).toBe("ok");

    writeFileSync(file, `${first.publicKeyPem}-----BEGIN PUBLIC KEY-----\nnot a key\n`);
    await new Promise((r) => setTimeout(r, 500));
    expect(changes).toBe(1); // refused: the keys read before stay
    expect(await outcome()).toBe("ok");

    const at = new Date(Date.now() + 300);
    writeFileSync(file, `${first.publicKeyPem}expires ${at.toISOString()}\n${second.publicKeyPem}`);
    await until(() => changes === 2);
    expect(verifier.keyExpiry(second.keyId)).toBe(at.getTime());
    await until(() => Date.now() > at.getTime());
    expect(await outcome()).toBe("expired_key");
  });
});
