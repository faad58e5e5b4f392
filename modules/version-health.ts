/**
 * Each module version's call record, shared by every process through the module-state KV bucket
 * (`health.<module>.<version>`): calls, failures and the times of its recent hangs. A worker replaced after a hang
 * or a process restarted starts from the shared record, so a version that hangs once every few hundred calls
 * accumulates its hangs until the hang rule (rollback-guard.ts) rolls it back. Each process adds its own
 * outcomes locally and merges them into the record by compare-and-set `flushMs` after the first one not yet merged
 * (a process that calls nothing, e.g. an idle one, is not woken every `flushMs` for an empty merge).
 */
import type { KV } from "@nats-io/kv";
import type { Logger } from "../lib/log/logger.ts";

/** Hang times kept per version (the hang rule needs only the recent ones). */
const HANG_TIMES_KEPT = 64;

export interface VersionRecord {
  calls: number;
  failures: number;
  /** Epoch ms of the most recent hangs (timeouts), oldest first. */
  hangs: number[];
  lastError: string;
}

const empty = (): VersionRecord => ({ calls: 0, failures: 0, hangs: [], lastError: "" });

export function healthKey(module: string, version: string): string {
  return `health.${module}.${version}`;
}

export class VersionHealth {
  /** The shared record as last read or written, per version. */
  readonly #shared = new Map<string, VersionRecord>();
  /** Outcomes recorded here and not yet merged into the shared record. */
  readonly #local = new Map<string, VersionRecord>();
  readonly #loading = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly kv: KV | undefined,
    private readonly module: string,
    private readonly logger: Logger,
    private readonly flushMs = 1_000,
  ) {}

  /** A merge `flushMs` from now, unless one is due already (never keeps the process alive). */
  #armFlush(): void {
    if (!this.kv || this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.flushMs);
    this.#timer.unref();
  }

  /** Reads a version's shared record (once; later reads come with each flush). */
  load(version: string): Promise<void> {
    if (!this.kv || version === "") return Promise.resolve();
    let loading = this.#loading.get(version);
    if (!loading) {
      loading = this.#read(version).then(
        (record) => {
          if (record) this.#shared.set(version, record);
        },
        (err: unknown) => this.logger.warn({ err, version }, "module health record unreadable; counting from zero"),
      );
      this.#loading.set(version, loading);
    }
    return loading;
  }

  record(version: string, failed: boolean, hang: boolean, error: string, now = Date.now()): void {
    let local = this.#local.get(version);
    if (!local) {
      local = empty();
      this.#local.set(version, local);
    }
    this.#armFlush();
    local.calls++;
    if (failed) {
      local.failures++;
      local.lastError = error;
    }
    if (hang) local.hangs.push(now);
  }

  /** Shared record plus this process's unmerged outcomes. */
  totals(version: string): VersionRecord {
    const shared = this.#shared.get(version) ?? empty();
    const local = this.#local.get(version);
    return local ? merge(shared, local) : shared;
  }

  /** Hangs of `version` since `since` (epoch ms), across processes and restarts. */
  hangsSince(version: string, since: number): number {
    return this.totals(version).hangs.filter((at) => at >= since).length;
  }

  /** Merges local outcomes into the shared records (compare-and-set, retried on a lost race). */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flush());
    return this.#flushing;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  async #flush(): Promise<void> {
    const kv = this.kv;
    if (!kv) return;
    for (const [version, local] of [...this.#local]) {
      this.#local.delete(version);
      try {
        this.#shared.set(version, await this.#merge(kv, version, local));
      } catch (err) {
        // Keep the outcomes for the next flush: they must not be lost.
        const again = this.#local.get(version);
        this.#local.set(version, again ? merge(local, again) : local);
        this.#armFlush();
        this.logger.warn({ err, version }, "module health record not written; retrying");
      }
    }
  }

  async #merge(kv: KV, version: string, local: VersionRecord): Promise<VersionRecord> {
    const key = healthKey(this.module, version);
    for (let attempt = 1; ; attempt++) {
      const entry = await kv.get(key);
      const current = entry?.operation === "PUT" ? decode(entry.value) : empty();
      const next = merge(current, local);
      const value = new TextEncoder().encode(JSON.stringify(next));
      try {
        if (entry?.operation === "PUT") await kv.update(key, value, entry.revision);
        else await kv.create(key, value);
        return next;
      } catch (err) {
        if (attempt >= 8) throw err;
      }
    }
  }

  async #read(version: string): Promise<VersionRecord | undefined> {
    const entry = await this.kv!.get(healthKey(this.module, version));
    return entry?.operation === "PUT" ? decode(entry.value) : undefined;
  }
}

function merge(a: VersionRecord, b: VersionRecord): VersionRecord {
  return {
    calls: a.calls + b.calls,
    failures: a.failures + b.failures,
    hangs: [...a.hangs, ...b.hangs].sort((x, y) => x - y).slice(-HANG_TIMES_KEPT),
    lastError: b.lastError || a.lastError,
  };
}

function decode(bytes: Uint8Array): VersionRecord {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as Partial<VersionRecord>;
    return {
      calls: Number(parsed.calls) || 0,
      failures: Number(parsed.failures) || 0,
      hangs: Array.isArray(parsed.hangs) ? parsed.hangs.filter((x) => Number.isFinite(x)) : [],
      lastError: typeof parsed.lastError === "string" ? parsed.lastError : "",
    };
  } catch {
    return empty();
  }
}
