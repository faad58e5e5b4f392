import type { DecideResponse } from "../../gen/chorus/v1/decision_pb.ts";
import { dropIdle, trimToCap } from "../../lib/collections/lru.ts";

export interface IdempotencyOptions {
  /** How long a request id keeps returning its first decision (default 10 minutes). */
  ttlMs?: number;
  /** Most remembered decisions; the oldest are forgotten first (default 200,000). */
  maxEntries?: number;
  clock?: () => number;
}

interface Entry {
  at: number;
  response: Promise<DecideResponse>;
}

/**
 * `request_id` as an idempotency key per API key: the same key and request id within the TTL get the first
 * decision back (same decision id, same ads, spend reserved once), also while the first is still running. A
 * decision that failed is forgotten, so the client's retry decides again. Held in this gateway process: a retry
 * that lands on another gateway process decides again (docs/security.md).
 */
export class IdempotentDecisions {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly clock: () => number;
  private sweptAt = Number.NEGATIVE_INFINITY;

  constructor(options: IdempotencyOptions = {}) {
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
    this.maxEntries = options.maxEntries ?? 200_000;
    this.clock = options.clock ?? Date.now;
  }

  run(keyId: string, requestId: string, decide: () => Promise<DecideResponse>): Promise<DecideResponse> {
    const now = this.clock();
    const key = `${keyId}\u0000${requestId}`;
    const found = this.entries.get(key);
    if (found && now - found.at < this.ttlMs) return found.response;
    if (found) this.entries.delete(key);
    this.evict(now);
    const response = decide();
    const entry = { at: now, response };
    this.entries.set(key, entry);
    response.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return response;
  }

  get size(): number {
    return this.entries.size;
  }

  // Entries are in insertion order, so the expired ones are at the front. The expiry walk runs at most once a
  // second: walking to the first live entry skips the holes earlier deletions left.
  private evict(now: number): void {
    if (now - this.sweptAt >= 1_000 || now < this.sweptAt) {
      this.sweptAt = now;
      dropIdle(this.entries, now, this.ttlMs, (e) => e.at);
    }
    trimToCap(this.entries, this.maxEntries - 1);
  }
}
