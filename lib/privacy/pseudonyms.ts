import { createHmac, randomUUID } from "node:crypto";

/**
 * Keyed pseudonyms for listener ids: HMAC-SHA256 under a secret only the gateways (and the operator's
 * `chorus users forget`) hold, cut to 128 bits, base64url. The gateway replaces user and session ids with these
 * before anything reaches NATS, so agents, streams and buckets only ever see pseudonyms: stable per key (caps and
 * profiles keep working), not reversible without it, and unlinkable across deployments with different keys.
 */
/** Ids whose pseudonym is remembered (per domain and id): a listener's session asks for the same ones each break. */
const REMEMBERED = 16_384;

export class Pseudonyms {
  readonly #key: Buffer;
  /** `domain\0id` -> pseudonym, oldest first; an HMAC costs ~4 us, a lookup well under one. */
  readonly #known = new Map<string, string>();

  constructor(key: string | Buffer) {
    this.#key = typeof key === "string" ? Buffer.from(key, "utf8") : key;
    if (this.#key.length < 16) throw new Error("the pseudonym key must have at least 16 bytes");
  }

  /** The pseudonym of a user id ("" stays ""). */
  user(userId: string): string {
    return userId === "" ? "" : this.#mac("user", userId);
  }

  /** The pseudonym of a session id ("" stays ""). */
  session(sessionId: string): string {
    return sessionId === "" ? "" : this.#mac("session", sessionId);
  }

  /**
   * The id a listener is known by on the bus. With measurement consent, the user's pseudonym; without it, one that
   * lives only as long as the session (no profile or cap history outlives it) or, with no session id, the request.
   */
  listener(userId: string, sessionId: string, measurement: boolean): string {
    if (measurement) return this.user(userId);
    return sessionId ? this.#mac("listener-session", sessionId) : `t${randomUUID().replaceAll("-", "").slice(0, 21)}`;
  }

  /**
   * The decision log's own pseudonym key (telemetry/decision-log.ts pseudonymizes the bus pseudonyms again under
   * it): derived from this key, so there is one secret to keep, yet a log record's ids differ from every id on the
   * bus, and nobody without the key can join the two.
   */
  decisionLogKey(): string {
    return createHmac("sha256", this.#key).update("derived-key\0decision-log").digest("hex");
  }

  #mac(domain: string, id: string): string {
    // The domain keeps a user id and a session id that happen to be equal from sharing a pseudonym.
    const input = `${domain}\0${id}`;
    let pseudonym = this.#known.get(input);
    if (pseudonym === undefined) {
      pseudonym = `p${createHmac("sha256", this.#key).update(input, "utf8").digest("base64url").slice(0, 22)}`;
      if (this.#known.size >= REMEMBERED) this.#known.delete(this.#known.keys().next().value!);
      this.#known.set(input, pseudonym);
    }
    return pseudonym;
  }
}
