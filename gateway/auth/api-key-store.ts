import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { openReplicatedBucket } from "../../lib/nats/jetstream-replicas.ts";
import { retryTransient } from "../../lib/nats/transient-retry.ts";
import { buckets } from "../../lib/subjects.ts";
import { type ApiKeyRecord, newApiKey } from "./api-key.ts";

/** The API key bucket (buckets.apiKeys); created if missing. Keys are kept with their history for audit. */
export function openApiKeyBucket(js: JetStreamClient, replicas?: number): Promise<KV> {
  return openReplicatedBucket(js, buckets.apiKeys, { history: 10 }, replicas);
}

const decoder = new TextDecoder();

function decode(value: Uint8Array): ApiKeyRecord | undefined {
  try {
    const record = JSON.parse(decoder.decode(value)) as ApiKeyRecord;
    return typeof record.id === "string" && typeof record.secretHash === "string" ? record : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every gateway's read-only view of the key bucket: loaded before the gateway serves, then kept current by a KV
 * watch, so a revocation reaches every gateway as fast as NATS delivers it (milliseconds; the issue asks 2 s).
 * Lookups never wait on NATS.
 */
export class ApiKeyDirectory {
  private readonly records = new Map<string, ApiKeyRecord>();
  private stopWatch: (() => void) | undefined;
  private readonly listeners = new Set<(record: ApiKeyRecord | undefined, id: string) => void>();

  static async open(kv: KV): Promise<ApiKeyDirectory> {
    const directory = new ApiKeyDirectory();
    // Retried while JetStream is not ready (a fresh cluster answers its first requests with timeouts).
    const status = await retryTransient("api key status", () => kv.status());
    const watch = await retryTransient("api key watch", () => kv.watch({ key: ">" }));
    directory.stopWatch = () => watch.stop();
    let markLoaded!: () => void;
    const loaded = new Promise<void>((resolve) => {
      markLoaded = resolve;
    });
    if (status.values === 0) markLoaded();
    void (async () => {
      for await (const entry of watch) {
        const record = entry.operation === "PUT" ? decode(entry.value) : undefined;
        if (record) directory.records.set(entry.key, record);
        else directory.records.delete(entry.key);
        for (const l of directory.listeners) l(record, entry.key);
        if (entry.isUpdate || entry.delta === 0) markLoaded();
      }
    })();
    await loaded;
    return directory;
  }

  get(id: string): ApiKeyRecord | undefined {
    return this.records.get(id);
  }

  list(): ApiKeyRecord[] {
    return [...this.records.values()].sort(
      (a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id),
    );
  }

  /** Resolves once the directory's copy of key `id` satisfies `predicate` (a write has reached this gateway). */
  waitFor(id: string, predicate: (r: ApiKeyRecord | undefined) => boolean, timeoutMs = 5_000): Promise<void> {
    if (predicate(this.records.get(id))) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`API key ${id} did not reach the expected state within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onChange((record, changed) => {
        if (changed !== id || !predicate(record)) return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  /** Called on every change. */
  onChange(listener: (record: ApiKeyRecord | undefined, id: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.stopWatch?.();
  }
}

/** The write side: used only by the ApiKeyService (admin keys) and the launcher's bootstrap. */
export class ApiKeyAdmin {
  constructor(private readonly kv: KV) {}

  /** Creates a key; returns its record and the key itself (shown once, never stored). */
  async create(fields: Parameters<typeof newApiKey>[0]): Promise<{ record: ApiKeyRecord; key: string }> {
    const made = newApiKey(fields);
    await this.kv.create(made.record.id, JSON.stringify(made.record));
    return made;
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const entry = await this.kv.get(id);
    return entry && entry.operation === "PUT" ? decode(entry.value) : undefined;
  }

  /** Marks a key revoked (the record stays); returns undefined if there is no such key. */
  async revoke(id: string): Promise<ApiKeyRecord | undefined> {
    const entry = await this.kv.get(id);
    const record = entry && entry.operation === "PUT" ? decode(entry.value) : undefined;
    if (!entry || !record) return undefined;
    if (record.revokedAt) return record;
    const revoked = { ...record, revokedAt: new Date().toISOString() };
    await this.kv.update(id, JSON.stringify(revoked), entry.revision);
    return revoked;
  }
}
