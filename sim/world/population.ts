import { AgeBracket, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import { DEMO_GENRES, DEMO_MOODS } from "../../lib/demo/demo-catalog.ts";
import { embed, feature, type WeightedFeature } from "../../lib/features/feature-space.ts";
import type { Rng } from "./rng.ts";
import type { Scenario } from "./scenario.ts";

/** A listener. `taste` and `adTolerance` are the hidden truth: strategies only ever see what they play and skip. */
export interface Listener {
  id: string;
  ageBracket: AgeBracket;
  country: string;
  device: DeviceType;
  personalizedConsent: boolean;
  podcastFan: boolean;
  favouriteGenres: string[];
  favouriteMoods: string[];
  /** Hidden: the listener's taste in the shared feature space (unit vector). */
  taste: Float32Array;
  /** Hidden: added to the log-odds of leaving after an ad (negative = patient). */
  adTolerance: number;
}

export interface ContentItem {
  id: string;
  kind: ContentKind;
  genre: string;
  moods: string[];
  durationMs: number;
  /** Podcast chapter starts: less intrusive insertion points. */
  chapterMarkersMs: number[];
  embedding: Float32Array;
}

const PODCAST_GENRES = ["true-crime", "news", "comedy"];
const MUSIC_GENRES = DEMO_GENRES.filter((g) => !PODCAST_GENRES.includes(g));
const COUNTRIES = ["DE", "FR", "GB", "US", "SE", "ES"];

export function contentFeatures(genre: string, moods: readonly string[]): WeightedFeature[] {
  return [[feature.genre(genre), 1], ...moods.map((m): WeightedFeature => [feature.mood(m), 0.7])];
}

export function makeListeners(s: Scenario, rng: Rng): Listener[] {
  return Array.from({ length: s.listeners.count }, (_, i) => {
    const podcastFan = rng.chance(s.listeners.podcastShare);
    const genres = [...new Set([rng.pick(podcastFan ? PODCAST_GENRES : MUSIC_GENRES), rng.pick(DEMO_GENRES)])];
    const moods = [...new Set([rng.pick(DEMO_MOODS), rng.pick(DEMO_MOODS)])];
    return {
      id: `listener-${i}`,
      ageBracket: rng.pick([
        AgeBracket.AGE_BRACKET_18_24,
        AgeBracket.AGE_BRACKET_25_34,
        AgeBracket.AGE_BRACKET_35_44,
        AgeBracket.AGE_BRACKET_45_54,
      ]),
      country: rng.pick(COUNTRIES),
      device: rng.pick([
        DeviceType.PHONE,
        DeviceType.PHONE,
        DeviceType.PHONE,
        DeviceType.DESKTOP,
        DeviceType.SMART_SPEAKER,
      ]),
      personalizedConsent: rng.chance(0.7),
      podcastFan,
      favouriteGenres: genres,
      favouriteMoods: moods,
      taste: embed(contentFeatures(genres[0]!, moods).concat(genres.slice(1).map((g) => [feature.genre(g), 0.6]))),
      adTolerance: rng.normal(0, 0.6),
    };
  });
}

/** A content library: music tracks of 2.5-5 minutes and podcast episodes of 20-50 minutes with chapters. */
export function makeContent(rng: Rng, tracks = 600, episodes = 80): ContentItem[] {
  const item = (id: string, kind: ContentKind, genre: string, durationMs: number, chapters: number[]) => {
    const moods = [rng.pick(DEMO_MOODS)];
    return {
      id,
      kind,
      genre,
      moods,
      durationMs,
      chapterMarkersMs: chapters,
      embedding: embed(contentFeatures(genre, moods)),
    };
  };
  const music = Array.from({ length: tracks }, (_, i) =>
    item(`track-${i}`, ContentKind.MUSIC, rng.pick(MUSIC_GENRES), Math.round(rng.uniform(150_000, 300_000)), []),
  );
  const podcasts = Array.from({ length: episodes }, (_, i) => {
    const durationMs = Math.round(rng.uniform(20, 50) * 60_000);
    const chapters = Array.from({ length: 3 + rng.int(4) }, () => Math.round(rng.uniform(0.1, 0.95) * durationMs)).sort(
      (a, b) => a - b,
    );
    return item(`episode-${i}`, ContentKind.PODCAST, rng.pick(PODCAST_GENRES), durationMs, chapters);
  });
  return [...music, ...podcasts];
}
