/**
 * Ed25519 keys for module manifests (node:crypto). A key is named by its key id: the first 16 hex digits of
 * the SHA-256 of the raw 32-byte public key, so a manifest says which trusted key must verify it.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";

export interface SigningKeyPair {
  /** PKCS#8 PEM: keep secret, give to `chorus modules publish --key`. */
  privateKeyPem: string;
  /** SPKI PEM: add to the CHORUS_TRUSTED_KEYS file of every process. */
  publicKeyPem: string;
  keyId: string;
}

export function generateSigningKey(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: "jwk" });
  if (jwk.crv !== "Ed25519" || typeof jwk.x !== "string") throw new Error("not an ed25519 key");
  return Buffer.from(jwk.x, "base64url");
}

export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  return createHash("sha256").update(rawPublicKey(publicKey)).digest("hex").slice(0, 16);
}

export function parsePrivateKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== "ed25519")
    throw new Error(`expected an ed25519 private key, got ${key.asymmetricKeyType}`);
  return key;
}

/** The public keys a process accepts module signatures from, by key id, each with an optional expiry. */
export class TrustedKeys {
  readonly #keys: ReadonlyMap<string, KeyObject>;
  readonly #expiry: ReadonlyMap<string, number>;

  constructor(keys: Iterable<KeyObject>, expiry: ReadonlyMap<string, number> = new Map()) {
    this.#keys = new Map([...keys].map((k) => [keyIdOf(k), k]));
    this.#expiry = expiry;
  }

  /**
   * PEM public-key blocks and/or lines of base64 raw 32-byte keys; `#` starts a comment line; a line
   * `expires <ISO 8601 time>` gives the next key an expiry (modules signed by it are refused from then on).
   * Throws naming the line of anything else, so a typo never silently trusts fewer keys than meant.
   */
  static parse(text: string): TrustedKeys {
    const keys: KeyObject[] = [];
    const expiry = new Map<string, number>();
    let pendingExpiry: number | undefined;
    const add = (key: KeyObject) => {
      keys.push(checkEd25519(key));
      if (pendingExpiry !== undefined) expiry.set(keyIdOf(key), pendingExpiry);
      pendingExpiry = undefined;
    };
    const lines = text.split(/\r?\n/);
    for (let index = 0; index < lines.length; index++) {
      const trimmed = lines[index]!.trim();
      if (trimmed === "" || trimmed.startsWith("#")) continue;
      const expires = /^expires\s+(\S+)$/.exec(trimmed);
      if (expires) {
        pendingExpiry = Date.parse(expires[1]!);
        if (!Number.isFinite(pendingExpiry))
          throw new Error(`trusted keys line ${index + 1}: "${expires[1]}" is not an ISO 8601 time`);
        continue;
      }
      if (trimmed === "-----BEGIN PUBLIC KEY-----") {
        const end = lines.findIndex((l, i) => i > index && l.trim() === "-----END PUBLIC KEY-----");
        if (end < 0) throw new Error(`trusted keys line ${index + 1}: PEM block without an END line`);
        add(createPublicKey(lines.slice(index, end + 1).join("\n")));
        index = end;
        continue;
      }
      const raw = Buffer.from(trimmed, "base64");
      if (raw.length !== 32) throw new Error(`trusted keys line ${index + 1}: not a PEM block or base64 32-byte key`);
      add(createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" }));
    }
    if (pendingExpiry !== undefined) throw new Error("trusted keys: an expires line is not followed by a key");
    return new TrustedKeys(keys, expiry);
  }

  /** Empty path = no trusted keys: every signed module is then refused, which is the safe default. */
  static load(path: string): TrustedKeys {
    if (path === "") return new TrustedKeys([]);
    try {
      return TrustedKeys.parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new Error(`CHORUS_TRUSTED_KEYS=${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  get(keyId: string): KeyObject | undefined {
    return this.#keys.get(keyId);
  }

  /** Epoch ms from which the key is no longer accepted; undefined when it does not expire. */
  expiry(keyId: string): number | undefined {
    return this.#expiry.get(keyId);
  }

  get ids(): string[] {
    return [...this.#keys.keys()];
  }
}

function checkEd25519(key: KeyObject): KeyObject {
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`trusted key is ${key.asymmetricKeyType}, not ed25519`);
  return key;
}
