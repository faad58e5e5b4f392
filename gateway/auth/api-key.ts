import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** What a key may do (docs/security.md has the table). */
export type Role = "decide" | "advertiser" | "reader" | "admin";
export const ROLES: readonly Role[] = ["decide", "advertiser", "reader", "admin"];

/** Per-key override of the role's token bucket. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

/**
 * One API key as stored in the key bucket (JSON). Only the SHA-256 of the secret is kept: secrets are 256 random
 * bits, so a slow password hash would add nothing but latency to every call.
 */
export interface ApiKeyRecord {
  id: string;
  name: string;
  role: Role;
  /** advertiser keys only: the one advertiser whose campaigns and creatives the key may touch. */
  advertiserId?: string;
  /** base64url SHA-256 of the secret. */
  secretHash: string;
  createdAt: string;
  /** Set when revoked; a revoked record stays for the audit trail. */
  revokedAt?: string;
  rateLimit?: RateLimit;
}

/** Who is calling, once the key checked out. */
export interface Principal {
  keyId: string;
  name: string;
  role: Role;
  advertiserId?: string;
}

// The presented key: "ck.<id>.<secret>". The id finds the record, the secret proves possession. Neither part has
// dots (hex id, base64url secret), so the split is unambiguous.
const PREFIX = "ck";
const KEY_PATTERN = /^ck\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("base64url");
}

export function newApiKey(fields: Pick<ApiKeyRecord, "name" | "role" | "advertiserId" | "rateLimit">): {
  record: ApiKeyRecord;
  key: string;
} {
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  const record: ApiKeyRecord = {
    id,
    name: fields.name,
    role: fields.role,
    ...(fields.advertiserId ? { advertiserId: fields.advertiserId } : {}),
    ...(fields.rateLimit ? { rateLimit: fields.rateLimit } : {}),
    secretHash: hashSecret(secret),
    createdAt: new Date().toISOString(),
  };
  return { record, key: `${PREFIX}.${id}.${secret}` };
}

/** The key id and secret of an `authorization` header value ("Bearer ck.<id>.<secret>"), or undefined. */
export function parseBearer(header: string | undefined | null): { id: string; secret: string } | undefined {
  if (!header) return undefined;
  const space = header.indexOf(" ");
  if (space < 0 || header.slice(0, space).toLowerCase() !== "bearer") return undefined;
  const m = KEY_PATTERN.exec(header.slice(space + 1).trim());
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** The key id of a presented key (for revocation by the key itself); undefined when it is not a key. */
export function keyIdOf(key: string): string | undefined {
  return KEY_PATTERN.exec(key.trim())?.[1];
}

/** Constant-time comparison of the presented secret's hash with the stored one. */
export function secretMatches(record: ApiKeyRecord, secret: string): boolean {
  const presented = Buffer.from(hashSecret(secret), "base64url");
  const stored = Buffer.from(record.secretHash, "base64url");
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}
