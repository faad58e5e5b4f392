import { type DecideResponse, DecideResponseSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { decodeMessage, encodeMessage } from "../../lib/codecs/registry.ts";
import { rememberWireBytes } from "../../lib/codecs/wire/wire-bytes.ts";
import { dropIdle, trimToCap } from "../../lib/collections/lru.ts";

export interface IdempotencyOptions {
  /** How long a request id keeps returning its first decision (default 10 minutes). */
  ttlMs?: number;
  /** Most remembered decisions; the oldest are forgotten first (default 200,000). */
  maxEntries?: number;
  /**
   * Most bytes of remembered decisions (their wire encoding; default 16 MiB); the oldest are forgotten first. A
   * decision with its explanation can be a hundred times the size of one without.
   */
  maxBytes?: number;
  clock?: () => number;
}

interface Entry {
  at: number;
  /** While the first decision runs: callers with the same id wait for it. */
  running: Promise<DecideResponse> | undefined;
  /** Once it is answered: its wire encoding, a few hundred bytes where the object graph took kilobytes. */
  bytes: Uint8Array | undefined;
}

/**
 * `request_id` as an idempotency key per API key: the same key and request id within the TTL get the first
 * decision back (same decision id, same ads, spend reserved once), also while the first is still running. A
 * decision that failed is forgotten, so the client's retry decides again. Held in this gateway process: a retry
 * that lands on another gateway process decides again (docs/security.md).
 * An answered decision is kept encoded: at 100 decisions/s the ten minutes of response objects held ~100 MB of a
 * gateway's heap, which a soak saw as growth for the first ten minutes.
 * The decision is encoded once: the response remembers its bytes (wire-bytes.ts), and the server's response
 * encoder sends those instead of encoding it again (responses are never changed once answered).
 */
export class IdempotentDecisions {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly clock: () => number;
  private sweptAt = Number.NEGATIVE_INFINITY;
  /** Bytes of the encoded decisions held. */
  heldBytes = 0;

  constructor(options: IdempotencyOptions = {}) {
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
    this.maxEntries = options.maxEntries ?? 200_000;
    this.maxBytes = options.maxBytes ?? 16 * 2 ** 20;
    this.clock = options.clock ?? Date.now;
  }

  run(keyId: string, requestId: string, decide: () => Promise<DecideResponse>): Promise<DecideResponse> {
    const now = this.clock();
    const key = `${keyId}\u0000${requestId}`;
    const found = this.entries.get(key);
    if (found && now - found.at < this.ttlMs)
      return found.bytes ? Promise.resolve(replay(found.bytes)) : found.running!;
    if (found) this.forget(key, found);
    this.evict(now);
    const response = decide();
    const entry: Entry = { at: now, running: response, bytes: undefined };
    this.entries.set(key, entry);
    response.then(
      (answer) => {
        if (this.entries.get(key) !== entry) return;
        entry.bytes = encodeMessage(DecideResponseSchema, answer);
        rememberWireBytes(answer, entry.bytes);
        entry.running = undefined;
        this.heldBytes += entry.bytes.byteLength;
        this.trimBytes();
      },
      () => {
        if (this.entries.get(key) === entry) this.forget(key, entry);
      },
    );
    return response;
  }

  get size(): number {
    return this.entries.size;
  }

  private forget(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.dropped(key, entry);
  }

  private readonly dropped = (_key: string, entry: Entry): void => {
    if (entry.bytes) this.heldBytes -= entry.bytes.byteLength;
    entry.bytes = undefined;
  };

  private trimBytes(): void {
    if (this.heldBytes <= this.maxBytes) return;
    // Down to 15/16 of the cap at once, oldest first (the walk past deleted slots is paid once per trim).
    const target = this.maxBytes - this.maxBytes / 16;
    for (const [key, entry] of this.entries) {
      if (this.heldBytes <= target) return;
      this.forget(key, entry);
    }
  }

  // Entries are in insertion order, so the expired ones are at the front. The expiry walk runs at most once a
  // second: walking to the first live entry skips the holes earlier deletions left.
  private evict(now: number): void {
    if (now - this.sweptAt >= 1_000 || now < this.sweptAt) {
      this.sweptAt = now;
      dropIdle(this.entries, now, this.ttlMs, (e) => e.at, this.dropped);
    }
    trimToCap(this.entries, this.maxEntries - 1, this.dropped);
  }
}

function replay(bytes: Uint8Array): DecideResponse {
  const response = decodeMessage(DecideResponseSchema, bytes);
  rememberWireBytes(response, bytes);
  return response;
}
