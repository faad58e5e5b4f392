import { createPublicKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signManifest, verifyManifestSignature } from "./manifest-signature.ts";
import { generateSigningKey, keyIdOf, parsePrivateKey, TrustedKeys } from "./signing-keys.ts";

const bytes = new TextEncoder().encode("\0asm not really, only hashed");
const fields = { module: "kernel", version: "1.2.0", abiVersion: 1, author: "ops@example.com", notes: "faster pods" };

describe("manifest signature", () => {
  it("manifest signature - verifies with the signer's public key and names it by key id", () => {
    const pair = generateSigningKey();
    const manifest = signManifest(bytes, fields, parsePrivateKey(pair.privateKeyPem));
    expect(manifest.keyId).toBe(pair.keyId);
    expect(manifest.signature.length).toBe(64);
    expect(manifest.sizeBytes).toBe(BigInt(bytes.length));
    expect(verifyManifestSignature(manifest, createPublicKey(pair.publicKeyPem))).toBe(true);
  });

  it("manifest signature - fails for any changed field and for another key", () => {
    const pair = generateSigningKey();
    const publicKey = createPublicKey(pair.publicKeyPem);
    const manifest = signManifest(bytes, fields, parsePrivateKey(pair.privateKeyPem));
    for (const change of [
      { version: "1.2.1" },
      { module: "bidding" },
      { notes: "other" },
      { sha256: "0".repeat(64) },
      { abiVersion: 2 },
    ]) {
      expect(verifyManifestSignature({ ...manifest, ...change }, publicKey)).toBe(false);
    }
    const other = createPublicKey(generateSigningKey().publicKeyPem);
    expect(verifyManifestSignature(manifest, other)).toBe(false);
  });

  it("trusted keys - reads PEM blocks and base64 raw keys, skips comments, refuses garbage naming the line", () => {
    const a = generateSigningKey();
    const b = generateSigningKey();
    const rawB = Buffer.from(createPublicKey(b.publicKeyPem).export({ format: "jwk" }).x!, "base64url").toString(
      "base64",
    );
    const keys = TrustedKeys.parse(`# release keys\n${a.publicKeyPem}\n${rawB}\n`);
    expect(keys.ids.sort()).toEqual([a.keyId, b.keyId].sort());
    expect(keyIdOf(keys.get(b.keyId)!)).toBe(b.keyId);
    expect(() => TrustedKeys.parse("# ok\nnot-a-key\n")).toThrow(/line 2/);
    expect(TrustedKeys.load("").ids).toEqual([]);
  });
});
