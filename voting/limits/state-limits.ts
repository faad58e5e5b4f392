import { type ConfigOf, loadConfig, parsers } from "../../lib/config/config.ts";

/**
 * Caps on per-listener and per-session agent state, so that no number of distinct user or session ids can grow a
 * process without bound (an agent that owns the shards, and every gateway's mirror of it). Ages are measured on
 * the server's clock when the state changes, never on timestamps a client sent.
 */
export const STATE_LIMIT_FIELDS = {
  maxProfiles: {
    env: "CHORUS_MAX_PROFILES",
    default: 200_000,
    parse: parsers.int(1, 100_000_000),
    help: "listener profiles (Intent) kept per process; the one seen longest ago is dropped first",
  },
  profileIdleMs: {
    env: "CHORUS_PROFILE_IDLE_MS",
    default: 30 * 86_400_000,
    parse: parsers.int(60_000, 366 * 86_400_000),
    help: "a profile not seen for this long (server clock) is dropped",
  },
  maxCappedCampaigns: {
    env: "CHORUS_MAX_CAPPED_CAMPAIGNS",
    default: 200,
    parse: parsers.int(1, 100_000),
    help: "campaigns with frequency-cap history per profile; the one shown longest ago is dropped first",
  },
  maxSessions: {
    env: "CHORUS_MAX_SESSIONS",
    default: 200_000,
    parse: parsers.int(1, 100_000_000),
    help: "playback sessions (Timing) kept per process; the one heard from longest ago is dropped first",
  },
  sessionIdleMs: {
    env: "CHORUS_SESSION_IDLE_MS",
    default: 2 * 3_600_000,
    parse: parsers.int(1_000, 366 * 86_400_000),
    help: "a session silent for this long (server clock) is dropped",
  },
  maxPendingAds: {
    env: "CHORUS_MAX_PENDING_ADS",
    default: 100_000,
    parse: parsers.int(1, 100_000_000),
    help: "won ads remembered per learning agent (Relevance, Bidding, Orchestrator) to credit later events",
  },
};

export type StateLimits = ConfigOf<typeof STATE_LIMIT_FIELDS>;

/**
 * Impressions kept per campaign in a profile: the largest frequency cap a campaign may set
 * (FrequencyCap.max_impressions <= 1000), so every valid cap is checked exactly.
 */
export const MAX_IMPRESSIONS_PER_CAMPAIGN = 1000;

let fromEnv: StateLimits | undefined;

/** The limits from the environment (read once per process; an invalid value fails at the first state). */
export function stateLimits(): StateLimits {
  fromEnv ??= loadConfig(STATE_LIMIT_FIELDS);
  return fromEnv;
}

/** Defaults with some limits replaced (tests, benchmarks). */
export function withLimits(over: Partial<StateLimits>): StateLimits {
  return { ...stateLimits(), ...over };
}
