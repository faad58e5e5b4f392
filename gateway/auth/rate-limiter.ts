import { touchEntry, trimToCap } from "../../lib/collections/lru.ts";
import type { RateLimit, Role } from "./api-key.ts";

export type RoleRateLimits = Record<Role, RateLimit>;

/** Defaults: players and SDKs need throughput, people and dashboards do not. perSecond 0 = unlimited. */
export const DEFAULT_RATE_LIMITS: RoleRateLimits = {
  decide: { perSecond: 5_000, burst: 10_000 },
  advertiser: { perSecond: 20, burst: 40 },
  reader: { perSecond: 50, burst: 100 },
  admin: { perSecond: 100, burst: 200 },
};

/** Parses API_RATE_LIMITS: "decide=5000:10000,reader=50:100" (per second : burst), over the defaults. */
export function parseRateLimits(raw: string): RoleRateLimits {
  const out = { ...DEFAULT_RATE_LIMITS };
  for (const entry of raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(decide|advertiser|reader|admin)=(\d+(?:\.\d+)?):(\d+)$/.exec(entry);
    if (!m) throw new Error(`"${entry}": expected role=perSecond:burst, roles decide, advertiser, reader, admin`);
    out[m[1] as Role] = { perSecond: Number(m[2]), burst: Number(m[3]) };
  }
  return out;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * One token bucket per API key, in this gateway process: a key spends one token per call and gets `perSecond`
 * back per second up to `burst`. Several gateways each allow the full rate (the limit is per gateway process,
 * docs/security.md), which keeps the check in memory and off NATS.
 */
export class RateLimiter {
  /** Least recently used first; a key dropped at the cap comes back with a full bucket (only ever more lenient). */
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly clock: () => number = () => performance.now(),
    /** Keys tracked at most (they are API keys, few; the cap keeps memory bounded whatever arrives). */
    readonly maxKeys = 100_000,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  /** 0 if the call may go now, else the milliseconds until a token is available. */
  take(keyId: string, limit: RateLimit): number {
    if (limit.perSecond <= 0) return 0;
    const now = this.clock();
    let b = this.buckets.get(keyId);
    if (!b) {
      b = { tokens: limit.burst, at: now };
      this.buckets.set(keyId, b);
      trimToCap(this.buckets, this.maxKeys);
    } else {
      touchEntry(this.buckets, keyId, b);
      b.tokens = Math.min(limit.burst, b.tokens + ((now - b.at) * limit.perSecond) / 1000);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 1000) / limit.perSecond);
  }

  forget(keyId: string): void {
    this.buckets.delete(keyId);
  }
}
