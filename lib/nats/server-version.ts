import semver from "semver";

/**
 * The oldest nats-server Chorus runs on: the events stream needs `republish` (the agents read accepted events
 * through it) and the report path `allow_direct` (2.9.0); older servers silently ignore the unknown settings, and
 * what rests on them would then rest on nothing.
 */
export const MIN_NATS_SERVER = "2.9.0";

export class NatsServerVersionError extends Error {
  override readonly name = "NatsServerVersionError";
  constructor(found: string) {
    super(
      `nats-server ${found} is too old: Chorus needs ${MIN_NATS_SERVER} or later (per-subject discard and republish ` +
        "in JetStream streams). Upgrade the server.",
    );
  }
}

/** Throws NatsServerVersionError unless `version` (as the server reports it, "2.9.10" or "v2.10.1") is recent enough. */
export function requireServerVersion(version: string | undefined): void {
  const parsed = semver.coerce(version ?? "");
  if (!parsed || semver.lt(parsed, MIN_NATS_SERVER)) throw new NatsServerVersionError(version ?? "(unknown)");
}
