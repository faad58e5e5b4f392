/**
 * The signing-key revocation list, shared by every process: key `revoked.<keyId>` of the module-state KV bucket,
 * one JSON record per revoked key. Written only by the operator (`chorus modules revoke-key`; the bus permissions
 * give the module buckets' write rights to the operator's credentials alone); read and watched by every process.
 * A module signed by a revoked key is refused by every verifier that has the list, and a process running one
 * rolls it back as soon as it sees the revocation (ModuleWatcher).
 */
import type { KV } from "@nats-io/kv";
import { KvWatchInclude } from "@nats-io/kv";
import type { Logger } from "../lib/log/logger.ts";
import { retryTransient } from "../lib/nats/transient-retry.ts";

export interface Revocation {
  readonly keyId: string;
  readonly reason: string;
  readonly actor: string;
  /** ISO 8601. */
  readonly at: string;
}

const PREFIX = "revoked.";
const KEY_ID = /^[0-9a-f]{16}$/;

export function revocationKey(keyId: string): string {
  if (!KEY_ID.test(keyId)) throw new Error(`key id must be 16 hex digits, got "${keyId}"`);
  return `${PREFIX}${keyId}`;
}

/** A read-only view of the list, for the verifier. */
export interface RevokedKeys {
  get(keyId: string): Revocation | undefined;
}

export class KeyRevocations implements RevokedKeys {
  readonly #revoked = new Map<string, Revocation>();
  readonly #listeners = new Set<(revocation: Revocation) => void>();
  #stop: (() => void) | undefined;

  private constructor(private readonly logger: Logger) {}

  /** Reads the whole list, then follows additions. */
  static async open(kv: KV, logger: Logger): Promise<KeyRevocations> {
    const list = new KeyRevocations(logger);
    // Watch first, read second: a revocation landing in between is seen either way (adding twice is a no-op).
    // Retried while JetStream is not ready (a fresh cluster answers its first requests with timeouts).
    const updates = await retryTransient(
      "revocations watch",
      () => kv.watch({ key: `${PREFIX}>`, include: KvWatchInclude.UpdatesOnly }),
      { logger },
    );
    list.#stop = () => updates.stop();
    const keys = await retryTransient("revocations keys", () => kv.keys(`${PREFIX}>`), { logger });
    for await (const key of keys) {
      const entry = await retryTransient("revocation", () => kv.get(key), { logger });
      if (entry?.operation === "PUT") list.#add(entry.value, false);
    }
    void (async () => {
      for await (const entry of updates) if (entry.operation === "PUT") list.#add(entry.value, true);
    })();
    return list;
  }

  /** Adds a key to the list (the operator's command). Revoking twice keeps the first record. */
  static async revoke(kv: KV, revocation: Revocation): Promise<void> {
    const value = new TextEncoder().encode(JSON.stringify(revocation));
    try {
      await kv.create(revocationKey(revocation.keyId), value);
    } catch (err) {
      if (!/key exists|wrong last sequence/i.test((err as Error).message)) throw err;
    }
  }

  get(keyId: string): Revocation | undefined {
    return this.#revoked.get(keyId);
  }

  get all(): Revocation[] {
    return [...this.#revoked.values()];
  }

  /** Called once per newly revoked key. */
  onRevoke(listener: (revocation: Revocation) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  stop(): void {
    this.#stop?.();
  }

  #add(bytes: Uint8Array, announce: boolean): void {
    let revocation: Revocation;
    try {
      revocation = JSON.parse(new TextDecoder().decode(bytes)) as Revocation;
      if (!KEY_ID.test(revocation.keyId)) throw new Error("no key id");
    } catch (err) {
      this.logger.error({ err }, "revocation record unreadable; ignored");
      return;
    }
    if (this.#revoked.has(revocation.keyId)) return;
    this.#revoked.set(revocation.keyId, revocation);
    this.logger.warn({ keyId: revocation.keyId, reason: revocation.reason }, "signing key revoked");
    if (announce) for (const listener of this.#listeners) listener(revocation);
  }
}
