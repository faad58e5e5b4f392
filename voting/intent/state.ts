import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  CampaignImpressionsSchema,
  type IntentSignal,
  IntentSignalSchema,
  type UserProfile,
  UserProfileSchema,
} from "../../gen/chorus/v1/agent_signals_pb.ts";
import type { PlaybackSignal } from "../../gen/chorus/v1/decision_pb.ts";
import type { LedgerEntry } from "../../gen/chorus/v1/ledger_pb.ts";
import { dropIdle, touchEntry, trimToCap } from "../../lib/collections/lru.ts";
import { embed, feature, type WeightedFeature } from "../../lib/features/feature-space.ts";
import { userShard } from "../../lib/subjects.ts";
import { MAX_IMPRESSIONS_PER_CAMPAIGN, type StateLimits, stateLimits } from "../limits/state-limits.ts";

/** Per-user listening profiles and impression history, by user shard. */
export interface IntentState {
  /** In least-recently-used order (coldest first), at most `limits.maxProfiles`. */
  readonly profiles: Map<string, UserProfile>;
  /** Users changed since the last published delta, by shard key. */
  readonly dirty: Map<string, Set<string>>;
  readonly limits: StateLimits;
  /**
   * No impression held is older than this (ms; Infinity when none is held), so that prune skips its scan while
   * nothing can be out of window. Undefined until prune has scanned once, and again after a restore.
   */
  oldestImpressionMs: number | undefined;
}

/** Affinities decay by this factor per content start, so taste follows recent listening. */
const AFFINITY_DECAY = 0.9;
/** Skips decay per playback event; a rate near 1+ means the listener skips a lot right now. */
const SKIP_DECAY = 0.8;
/** Impressions older than this are dropped (longest frequency-cap window we honour). */
export const MAX_CAP_WINDOW_MS = 30 * 86_400_000;

export function createIntentState(limits: StateLimits = stateLimits()): IntentState {
  return { profiles: new Map(), dirty: new Map(), limits, oldestImpressionMs: undefined };
}

/** 0 night (0-5 h), 1 morning (6-11), 2 afternoon (12-17), 3 evening (18-23), UTC. */
export function daypart(nowMs: number): number {
  return Math.floor(new Date(nowMs).getUTCHours() / 6);
}

/** The user's profile, made the most recently used; `nowMs` is the server's clock. */
function touch(state: IntentState, userId: string, nowMs: number): UserProfile {
  const profile = state.profiles.get(userId) ?? create(UserProfileSchema, { userId });
  touchEntry(state.profiles, userId, profile);
  trimToCap(state.profiles, state.limits.maxProfiles, (id) => forget(state, id));
  profile.lastSeenMs = BigInt(nowMs);
  const key = String(userShard(userId));
  let users = state.dirty.get(key);
  if (!users) {
    users = new Set();
    state.dirty.set(key, users);
  }
  users.add(userId);
  return profile;
}

/** A dropped profile leaves the pending delta too (what is pending stays within the cap); returns its shard key. */
function forget(state: IntentState, userId: string): string {
  const key = String(userShard(userId));
  state.dirty.get(key)?.delete(userId);
  return key;
}

function bump(map: Record<string, number>, key: string, by: number): void {
  for (const k of Object.keys(map)) map[k] = map[k]! * AFFINITY_DECAY;
  map[key] = (map[key] ?? 0) + by;
}

/**
 * Learns from one playback signal; returns the shard key it changed. `serverNowMs` ages the profile; the client's
 * `at` only places the listening in a daypart.
 */
export function applyPlayback(state: IntentState, signal: PlaybackSignal, serverNowMs = Date.now()): string[] {
  const nowMs = signal.at ? timestampMs(signal.at) : serverNowMs;
  const profile = touch(state, signal.userId, serverNowMs);
  profile.skipRate *= SKIP_DECAY;
  const kind = signal.kind;
  if (kind.case === "contentStart") {
    const { genre, moodTags } = kind.value;
    profile.genre = genre.toLowerCase();
    profile.moodTags = moodTags.map((m) => m.toLowerCase());
    if (genre) bump(profile.genreAffinity, profile.genre, 1);
    for (const mood of profile.moodTags) bump(profile.moodAffinity, mood, 1 / profile.moodTags.length);
    const part = daypart(nowMs);
    profile.daypartAffinity[part] = (profile.daypartAffinity[part] ?? 0) + 1;
  } else if (kind.case === "skip") {
    profile.skipRate += 1;
    // A skip says the current genre is less welcome right now.
    if (profile.genre) profile.genreAffinity[profile.genre] = (profile.genreAffinity[profile.genre] ?? 0) - 0.5;
  }
  // Pre-compute for the next break, so that a decide finds the vector ready. Only taste changes it (a new track,
  // a skip): positions, pauses and screen changes, most of the signals, do not pay for it.
  if (kind.case === "contentStart" || kind.case === "skip" || profile.intentVector.length === 0)
    profile.intentVector = [...intentVector(profile, profile.genre, profile.moodTags)];
  return [String(userShard(signal.userId))];
}

/**
 * Counts an accepted impression for frequency capping (owner shards only). The event's time counts it in its
 * window, but never later than the server's now (a client clock ahead must not keep history alive). History is
 * bounded: the MAX_IMPRESSIONS_PER_CAMPAIGN latest per campaign (the largest valid cap), and
 * `limits.maxCappedCampaigns` campaigns per profile (the one shown longest ago goes first).
 */
export function applyImpression(
  state: IntentState,
  entry: LedgerEntry,
  owns: (key: string) => boolean,
  serverNowMs = Date.now(),
): string[] {
  if (!entry.userId || !entry.campaignId || !owns(String(userShard(entry.userId)))) return [];
  const occurred = entry.event?.occurredAt ? timestampMs(entry.event.occurredAt) : serverNowMs;
  const at = Math.min(occurred, serverNowMs);
  const profile = touch(state, entry.userId, serverNowMs);
  const i = profile.impressions.findIndex((h) => h.campaignId === entry.campaignId);
  // The list is kept in order of last impression (most recent last), so the cap drops the coldest campaign.
  const history =
    i >= 0 ? profile.impressions.splice(i, 1)[0]! : create(CampaignImpressionsSchema, { campaignId: entry.campaignId });
  profile.impressions.push(history);
  if (profile.impressions.length > state.limits.maxCappedCampaigns)
    profile.impressions.splice(0, profile.impressions.length - state.limits.maxCappedCampaigns);
  history.atMs.push(BigInt(at));
  if (state.oldestImpressionMs !== undefined && at < state.oldestImpressionMs) state.oldestImpressionMs = at;
  if (history.atMs.length > MAX_IMPRESSIONS_PER_CAMPAIGN)
    history.atMs.splice(0, history.atMs.length - MAX_IMPRESSIONS_PER_CAMPAIGN);
  return [String(userShard(entry.userId))];
}

/** The user's intent in the shared feature space: the moment's context first, learned taste second. */
export function intentVector(profile: UserProfile | undefined, genre: string, moods: readonly string[]): Float32Array {
  const features: WeightedFeature[] = [];
  if (genre) features.push([feature.genre(genre), 1]);
  for (const m of moods) features.push([feature.mood(m), 0.7]);
  if (profile) {
    const total = Object.values(profile.genreAffinity).reduce((s, v) => s + Math.max(0, v), 0) || 1;
    for (const [g, a] of Object.entries(profile.genreAffinity))
      if (a > 0) features.push([feature.genre(g), (0.8 * a) / total]);
    const moodTotal = Object.values(profile.moodAffinity).reduce((s, v) => s + Math.max(0, v), 0) || 1;
    for (const [m, a] of Object.entries(profile.moodAffinity))
      if (a > 0) features.push([feature.mood(m), (0.5 * a) / moodTotal]);
  }
  return embed(features);
}

/**
 * Upkeep on the server's clock: drops impressions past every window and profiles idle longer than
 * `limits.profileIdleMs` (the count cap is kept on every insertion).
 */
export function prune(state: IntentState, nowMs: number): string[] {
  const changed = new Set<string>();
  // It runs on every tick: the scan over every profile is skipped while no impression can be out of window, and
  // allocates nothing unless one is.
  const cutoffMs = Math.floor(nowMs - MAX_CAP_WINDOW_MS);
  if (state.oldestImpressionMs === undefined || state.oldestImpressionMs <= cutoffMs) {
    const cutoff = BigInt(cutoffMs);
    let oldest = Number.POSITIVE_INFINITY;
    for (const profile of state.profiles.values()) {
      let trimmed = false;
      for (const h of profile.impressions) {
        if (anyAtOrBefore(h.atMs, cutoff)) {
          h.atMs = h.atMs.filter((t) => t > cutoff);
          trimmed = true;
        }
        for (let i = 0; i < h.atMs.length; i++) if (Number(h.atMs[i]) < oldest) oldest = Number(h.atMs[i]);
      }
      if (trimmed) {
        profile.impressions = profile.impressions.filter((h) => h.atMs.length > 0);
        changed.add(String(userShard(profile.userId)));
      }
    }
    state.oldestImpressionMs = oldest;
  }
  dropIdle(
    state.profiles,
    nowMs,
    state.limits.profileIdleMs,
    (p) => Number(p.lastSeenMs),
    (id) => changed.add(forget(state, id)),
  );
  return [...changed];
}

function anyAtOrBefore(times: readonly bigint[], cutoff: bigint): boolean {
  for (let i = 0; i < times.length; i++) if (times[i]! <= cutoff) return true;
  return false;
}

/** Erasure: drops the listeners' profiles (impression history included); returns their shard keys. */
export function forgetListeners(state: IntentState, pseudonyms: ReadonlySet<string>): string[] {
  const changed = new Set<string>();
  for (const id of pseudonyms) if (state.profiles.delete(id)) changed.add(forget(state, id));
  return [...changed];
}

export function snapshotIntent(state: IntentState, key: string, scope: "full" | "delta"): IntentSignal {
  const shard = Number(key);
  let profiles: UserProfile[];
  if (scope === "full") {
    profiles = [...state.profiles.values()].filter((p) => userShard(p.userId) === shard);
  } else {
    profiles = [...(state.dirty.get(key) ?? [])].flatMap((u) => state.profiles.get(u) ?? []);
    state.dirty.delete(key);
  }
  return create(IntentSignalSchema, { shard, profiles });
}

/** Upserts the signal's profiles as the most recently used, within the same cap (a gateway mirrors every shard). */
export function restoreIntent(state: IntentState, _key: string, signal: IntentSignal): void {
  for (const profile of signal.profiles) touchEntry(state.profiles, profile.userId, profile);
  // The profiles bring their own impression history: the next prune scans it.
  if (signal.profiles.length > 0) state.oldestImpressionMs = undefined;
  trimToCap(state.profiles, state.limits.maxProfiles, (id) => forget(state, id));
}
