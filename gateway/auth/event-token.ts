import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Event tokens: proof that an ad event comes from the player that received the ad. Every ad of a DecideResponse
 * carries `<kid>.<expiry>.<mac>` where mac = HMAC-SHA256(secret[kid], "v1|kid|decision|creative|expiry") cut to
 * 128 bits and expiry is in unix seconds; when the gateway knows where the decision's receipt is stored (its
 * receipts-stream sequence `s<seq>`, or before 2026-12-07 its batch id), `<kid>.<expiry>.<mac>.<locator>` with
 * "v2|kid|decision|creative|expiry|locator" signed. ReportEvents (and the tracking endpoint) recompute it: a client can
 * neither forge one nor move one to another decision or creative, and one expires. The key id lets operators
 * rotate: sign with a new key while the old one still verifies.
 */
export interface EventTokenKey {
  id: string;
  secret: Buffer;
}

export type EventTokenCheck =
  | { ok: true; expiresAtMs: number; receiptLocator?: string }
  | { ok: false; reason: "missing" | "malformed" | "unknown_key" | "mismatch" | "expired"; message: string };

const KID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const MAC_BYTES = 16;

export class EventTokens {
  private readonly keys = new Map<string, Buffer>();
  /** Where a decision's receipt is stored, if known (the gateway's ReceiptStore.locatorOf); set once at start. */
  receiptLocatorOf: (decisionId: string) => string | undefined = () => undefined;
  private readonly signing: EventTokenKey;

  /** `keys[0]` signs; every key verifies. `ttlMs`: how long a token stays valid after the decision. */
  constructor(
    keys: readonly EventTokenKey[],
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    if (keys.length === 0) throw new Error("event tokens need at least one key");
    for (const k of keys) {
      if (!KID_PATTERN.test(k.id)) throw new Error(`event token key id "${k.id}": letters, digits, _ or - only`);
      if (k.secret.length < 32) throw new Error(`event token key "${k.id}": the secret must have at least 32 bytes`);
      this.keys.set(k.id, k.secret);
    }
    this.signing = keys[0]!;
  }

  /**
   * `receiptLocator`: where the decision's receipt is stored (ReceiptStore.locatorOf), carried as a fourth part so
   * that any gateway can find the receipt; signed with the rest.
   */
  sign(
    decisionId: string,
    creativeId: string,
    nowMs = this.clock(),
    receiptLocator = this.receiptLocatorOf(decisionId),
  ): string {
    const expiry = Math.ceil((nowMs + this.ttlMs) / 1000);
    const kid = this.signing.id;
    const tag = mac(this.signing.secret, kid, decisionId, creativeId, expiry, receiptLocator).toString("base64url");
    return receiptLocator === undefined ? `${kid}.${expiry}.${tag}` : `${kid}.${expiry}.${tag}.${receiptLocator}`;
  }

  verify(token: string | undefined, decisionId: string, creativeId: string, nowMs = this.clock()): EventTokenCheck {
    if (!token) return { ok: false, reason: "missing", message: "event_token: required (it comes with the ad)" };
    const parts = token.split(".");
    const expiry = Number(parts[1]);
    const receiptLocator = parts[3];
    if (
      (parts.length !== 3 && parts.length !== 4) ||
      !Number.isSafeInteger(expiry) ||
      !/^[A-Za-z0-9_-]+$/.test(parts[2]!) ||
      (receiptLocator !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(receiptLocator))
    )
      return { ok: false, reason: "malformed", message: "event_token: not a token this ad server issued" };
    const secret = this.keys.get(parts[0]!);
    if (!secret) return { ok: false, reason: "unknown_key", message: "event_token: signed with an unknown key" };
    const presented = Buffer.from(parts[2]!, "base64url");
    const expected = mac(secret, parts[0]!, decisionId, creativeId, expiry, receiptLocator);
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected))
      return {
        ok: false,
        reason: "mismatch",
        message: "event_token: does not match this decision_id and creative_id (forged or from another ad)",
      };
    if (expiry * 1000 <= nowMs) return { ok: false, reason: "expired", message: "event_token: expired" };
    return receiptLocator === undefined
      ? { ok: true, expiresAtMs: expiry * 1000 }
      : { ok: true, expiresAtMs: expiry * 1000, receiptLocator };
  }
}

function mac(
  secret: Buffer,
  kid: string,
  decisionId: string,
  creativeId: string,
  expiry: number,
  receiptLocator?: string,
): Buffer {
  const signed =
    receiptLocator === undefined
      ? `v1|${kid}|${decisionId}|${creativeId}|${expiry}`
      : `v2|${kid}|${decisionId}|${creativeId}|${expiry}|${receiptLocator}`;
  return createHmac("sha256", secret).update(signed, "utf8").digest().subarray(0, MAC_BYTES);
}

/** Parses `EVENT_TOKEN_KEYS`: "kid:base64url-secret[,kid:secret...]", the first one signing. */
export function parseEventTokenKeys(raw: string): EventTokenKey[] {
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const colon = entry.indexOf(":");
      if (colon <= 0) throw new Error("each key is kid:base64url-secret");
      return { id: entry.slice(0, colon), secret: Buffer.from(entry.slice(colon + 1), "base64url") };
    });
}

/** A fresh `kid:secret` entry for EVENT_TOKEN_KEYS (256-bit secret). */
export function newEventTokenKey(id = `k${Date.now().toString(36)}`): string {
  return `${id}:${randomBytes(32).toString("base64url")}`;
}

/** The tracking URL with the ad's token in its query (`chorus_et`), so a pixel hit is as verifiable as an RPC. */
export function withEventToken(url: string, token: string): string {
  const hash = url.indexOf("#");
  const base = hash < 0 ? url : url.slice(0, hash);
  const fragment = hash < 0 ? "" : url.slice(hash);
  return `${base}${base.includes("?") ? "&" : "?"}chorus_et=${encodeURIComponent(token)}${fragment}`;
}
