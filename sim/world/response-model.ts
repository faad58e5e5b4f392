import { Goal } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import type { ContentItem } from "./population.ts";

/**
 * The hidden ground truth of how listeners respond to ads. No strategy sees it: they see only the events it
 * produces (late). Log-odds models with a few plain terms, so the direction of every effect is easy to audit:
 * relevance (taste x ad) helps, cutting into content (intrusiveness) hurts, long and repeated ads tire.
 */
export interface AdExposure {
  /** Cosine of the listener's hidden taste and the ad's embedding, in [-1, 1]. */
  affinity: number;
  /** Hidden creative quality (log-odds). */
  quality: number;
  format: AdFormat;
  durationMs: number;
  /** 0 = between tracks, ~0.3 = at a chapter marker, 1 = cut into a track. */
  intrusiveness: number;
  /** Ads this listener already heard in the session. */
  adsBefore: number;
  screenOn: boolean;
}

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export function completionProbability(e: AdExposure): number {
  const length = (e.durationMs - 15_000) / 15_000;
  return sigmoid(1.3 + 2.2 * e.affinity + e.quality - 1.6 * e.intrusiveness - 0.5 * length - 0.08 * e.adsBefore);
}

const BASE_CTR: Record<number, number> = {
  [AdFormat.AUDIO]: 0.004,
  [AdFormat.VIDEO]: 0.012,
  [AdFormat.DISPLAY]: 0.008,
  [AdFormat.INTERACTIVE]: 0.03,
};

export function clickProbability(e: AdExposure): number {
  // A visual ad on a dark screen cannot be clicked; an audio ad can (voice or a later tap).
  if (!e.screenOn && e.format !== AdFormat.AUDIO) return 0;
  return Math.min(
    0.5,
    (BASE_CTR[e.format] ?? 0.005) * Math.exp(2.5 * e.affinity + 0.7 * e.quality) * (1 - 0.5 * e.intrusiveness),
  );
}

/** Value factor of an impression nobody could see (video on a dark screen) for impression-goal campaigns. */
export function impressionWorth(e: AdExposure): number {
  return !e.screenOn && (e.format === AdFormat.VIDEO || e.format === AdFormat.INTERACTIVE) ? 0.3 : 1;
}

/** After a break: the chance the listener ends the session right away. */
export function leaveProbability(p: {
  intrusiveness: number;
  ads: number;
  bestAffinity: number;
  adsBefore: number;
  tolerance: number;
}): number {
  return sigmoid(
    -3.6 + 1.9 * p.intrusiveness + 0.35 * (p.ads - 1) + 0.12 * p.adsBefore - 0.8 * p.bestAffinity + p.tolerance,
  );
}

const CHAPTER_TOLERANCE_MS = 5_000;

/** How intrusive a break at `positionMs` of `item` is: 0 at its ends, 0.3 at a chapter marker, 1 mid-content. */
export function intrusivenessAt(item: ContentItem, positionMs: number): number {
  if (positionMs <= 1_000 || positionMs >= item.durationMs - 1_000) return 0;
  return item.chapterMarkersMs.some((m) => Math.abs(m - positionMs) <= CHAPTER_TOLERANCE_MS) ? 0.3 : 1;
}

/** What an ad is worth to its advertiser: a share of the goal's value for impressions, the whole value per goal met. */
export function goalValue(goal: Goal, perGoal: number, e: AdExposure, completed: boolean, clicked: boolean): number {
  if (goal === Goal.IMPRESSIONS) return perGoal * impressionWorth(e);
  if (goal === Goal.COMPLETIONS) return completed ? perGoal : 0;
  return clicked ? perGoal : 0;
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
