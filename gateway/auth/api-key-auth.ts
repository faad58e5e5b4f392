import { timingSafeEqual } from "node:crypto";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createContextKey } from "@connectrpc/connect";
import { accessOf, roleAllows } from "./access-policy.ts";
import { type ApiKeyRecord, type Principal, parseBearer, secretMatches } from "./api-key.ts";
import type { ApiKeyDirectory } from "./api-key-store.ts";
import { DEFAULT_RATE_LIMITS, RateLimiter, type RoleRateLimits } from "./rate-limiter.ts";

/** The caller of an RPC, set by the gateway before the handler runs (undefined on open procedures). */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "chorus principal" });

/** Keys whose secret was verified recently (by key id), so a busy key is not hashed on every call. */
const VERIFIED_KEYS = 1024;

interface Verified {
  /** The record the secret was checked against: a changed, rotated or replaced record is checked afresh. */
  record: ApiKeyRecord;
  secretHash: string;
  /** The secret that matched, compared in constant time with the presented one. */
  secret: Buffer;
  principal: Principal;
}

/** One message for every authentication failure, so a caller learns nothing about which part was wrong. */
export const UNAUTHENTICATED_MESSAGE = "a valid API key is required (authorization: Bearer <key>)";

export interface ApiKeyAuthOptions {
  rateLimits?: RoleRateLimits;
  /** Reflection answers only callers with a key (default false: open, so grpcurl `list` works). */
  reflectionNeedsKey?: boolean;
  clock?: () => number;
}

/**
 * The gateway's trust check, the same for every protocol and for plain HTTP routes: who is calling (API key from
 * `authorization: Bearer ck.<id>.<secret>`), may this role call this procedure, and is the key within its rate.
 */
export class ApiKeyAuth {
  private readonly limiter: RateLimiter;
  private readonly rateLimits: RoleRateLimits;
  private readonly verified = new Map<string, Verified>();
  readonly reflectionNeedsKey: boolean;

  constructor(
    private readonly directory: ApiKeyDirectory,
    options: ApiKeyAuthOptions = {},
  ) {
    this.rateLimits = options.rateLimits ?? DEFAULT_RATE_LIMITS;
    this.reflectionNeedsKey = options.reflectionNeedsKey ?? false;
    this.limiter = new RateLimiter(options.clock);
    directory.onChange((record, id) => {
      this.verified.delete(id);
      if (!record || record.revokedAt) this.limiter.forget(id);
    });
  }

  /**
   * Who holds this `authorization` header value: UNAUTHENTICATED (one message) for no key, a malformed one, an
   * unknown or revoked id and a wrong secret. No rate limit: see `admit`.
   */
  authenticate(authorization: string | undefined | null): Principal {
    const presented = parseBearer(authorization);
    const record = presented && this.directory.get(presented.id);
    if (!presented || !record || record.revokedAt)
      throw new ConnectError(UNAUTHENTICATED_MESSAGE, Code.Unauthenticated);
    // A key seen before against this very record: a constant-time compare with the secret that matched its hash
    // (the same answer as hashing again: another secret with that SHA-256 is not to be found), instead of SHA-256.
    const seen = this.verified.get(record.id);
    if (seen !== undefined && seen.record === record && seen.secretHash === record.secretHash) {
      const secret = Buffer.from(presented.secret, "latin1");
      if (secret.length === seen.secret.length && timingSafeEqual(secret, seen.secret)) return seen.principal;
      throw new ConnectError(UNAUTHENTICATED_MESSAGE, Code.Unauthenticated);
    }
    if (!secretMatches(record, presented.secret)) throw new ConnectError(UNAUTHENTICATED_MESSAGE, Code.Unauthenticated);
    const principal: Principal = Object.freeze({
      keyId: record.id,
      name: record.name,
      role: record.role,
      ...(record.advertiserId ? { advertiserId: record.advertiserId } : {}),
    });
    if (this.verified.size >= VERIFIED_KEYS) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(record.id, {
      record,
      secretHash: record.secretHash,
      secret: Buffer.from(presented.secret, "latin1"),
      principal,
    });
    return principal;
  }

  /** RESOURCE_EXHAUSTED with `retry-after` (seconds) and a google.rpc.RetryInfo detail when the key is over its rate. */
  admit(principal: Principal): void {
    const record = this.directory.get(principal.keyId);
    const limit = record?.rateLimit ?? this.rateLimits[principal.role];
    const waitMs = this.limiter.take(principal.keyId, limit);
    if (waitMs > 0) throw rateLimited(waitMs, limit.perSecond);
  }

  /**
   * The whole check of one RPC: undefined for open procedures (health; reflection unless configured), else the
   * principal, or UNAUTHENTICATED / PERMISSION_DENIED / RESOURCE_EXHAUSTED.
   */
  check(authorization: string | undefined | null, procedure: string): Principal | undefined {
    if (accessOf(procedure, this.reflectionNeedsKey) === "open") return undefined;
    const principal = this.authenticate(authorization);
    if (!roleAllows(principal.role, procedure))
      throw new ConnectError(
        `the ${principal.role} key "${principal.name}" may not call ${procedure.replace(/^\//, "")}`,
        Code.PermissionDenied,
      );
    this.admit(principal);
    return principal;
  }
}

function rateLimited(waitMs: number, perSecond: number): ConnectError {
  const seconds = Math.floor(waitMs / 1000);
  const nanos = (waitMs % 1000) * 1_000_000;
  // google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1 } written by hand: two tiny messages.
  const duration = new BinaryWriter();
  if (seconds) duration.uint32(8).int64(seconds);
  if (nanos) duration.uint32(16).int32(nanos);
  const retryInfo = new BinaryWriter().uint32(10).bytes(duration.finish()).finish();
  const error = new ConnectError(
    `rate limit of ${perSecond} calls/s for this API key exceeded; retry after ${waitMs} ms`,
    Code.ResourceExhausted,
    { "retry-after": String(Math.max(1, Math.ceil(waitMs / 1000))) },
  );
  // Already-encoded details are sent as they are by every protocol (connect-es packs them into google.rpc.Status).
  error.details.push({ type: "google.rpc.RetryInfo", value: retryInfo });
  return error;
}
