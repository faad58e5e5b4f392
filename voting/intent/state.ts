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
import { embed, feature, type WeightedFeature } from "../../lib/features/feature-space.ts";
import { userShard } from "../../lib/subjects.ts";

/** Per-user listening profiles and impression history, by user shard. */
export interface IntentState {
  readonly profiles: Map<string, UserProfile>;
  /** Users changed since the last published delta, by shard key. */
  readonly dirty: Map<string, Set<string>>;
}

/** Affinities decay by this factor per content start, so taste follows recent listening. */
const AFFINITY_DECAY = 0.9;
/** Skips decay per playback event; a rate near 1+ means the listener skips a lot right now. */
const SKIP_DECAY = 0.8;
/** Impressions older than this are dropped (longest frequency-cap window we honour). */
export const MAX_CAP_WINDOW_MS = 30 * 86_400_000;
/** Profiles per shard kept in memory; the one seen longest ago is evicted first. */
const MAX_PROFILES_PER_SHARD = 20_000;

export function createIntentState(): IntentState {
  return { profiles: new Map(), dirty: new Map() };
}

/** 0 night (0-5 h), 1 morning (6-11), 2 afternoon (12-17), 3 evening (18-23), UTC. */
export function daypart(nowMs: number): number {
  return Math.floor(new Date(nowMs).getUTCHours() / 6);
}

function touch(state: IntentState, userId: string, nowMs: number): UserProfile {
  let profile = state.profiles.get(userId);
  if (!profile) {
    profile = create(UserProfileSchema, { userId });
    state.profiles.set(userId, profile);
  }
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

function bump(map: Record<string, number>, key: string, by: number): void {
  for (const k of Object.keys(map)) map[k] = map[k]! * AFFINITY_DECAY;
  map[key] = (map[key] ?? 0) + by;
}

/** Learns from one playback signal; returns the shard key it changed. */
export function applyPlayback(state: IntentState, signal: PlaybackSignal): string[] {
  const nowMs = signal.at ? timestampMs(signal.at) : Date.now();
  const profile = touch(state, signal.userId, nowMs);
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
  // Pre-compute for the next break, so that a decide finds the vector ready.
  profile.intentVector = [...intentVector(profile, profile.genre, profile.moodTags)];
  return [String(userShard(signal.userId))];
}

/** Counts an accepted impression for frequency capping (owner shards only). */
export function applyImpression(state: IntentState, entry: LedgerEntry, owns: (key: string) => boolean): string[] {
  if (!entry.userId || !entry.campaignId || !owns(String(userShard(entry.userId)))) return [];
  const at = entry.event?.occurredAt ? timestampMs(entry.event.occurredAt) : Date.now();
  const profile = touch(state, entry.userId, at);
  let history = profile.impressions.find((i) => i.campaignId === entry.campaignId);
  if (!history) {
    history = create(CampaignImpressionsSchema, { campaignId: entry.campaignId });
    profile.impressions.push(history);
  }
  history.atMs.push(BigInt(at));
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

/** Drops impressions past every window and evicts the profiles seen longest ago. */
export function prune(state: IntentState, nowMs: number): string[] {
  const changed = new Set<string>();
  const byShard = new Map<string, UserProfile[]>();
  for (const profile of state.profiles.values()) {
    const key = String(userShard(profile.userId));
    for (const h of profile.impressions) {
      const kept = h.atMs.filter((t) => Number(t) > nowMs - MAX_CAP_WINDOW_MS);
      if (kept.length !== h.atMs.length) {
        h.atMs = kept;
        changed.add(key);
      }
    }
    profile.impressions = profile.impressions.filter((h) => h.atMs.length > 0);
    let list = byShard.get(key);
    if (!list) {
      list = [];
      byShard.set(key, list);
    }
    list.push(profile);
  }
  for (const [key, list] of byShard) {
    if (list.length <= MAX_PROFILES_PER_SHARD) continue;
    list.sort((a, b) => Number(a.lastSeenMs - b.lastSeenMs));
    for (const p of list.slice(0, list.length - MAX_PROFILES_PER_SHARD)) state.profiles.delete(p.userId);
    changed.add(key);
  }
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

export function restoreIntent(state: IntentState, _key: string, signal: IntentSignal): void {
  for (const profile of signal.profiles) state.profiles.set(profile.userId, profile);
}
