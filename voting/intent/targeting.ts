import { VetoReason } from "../../gen/chorus/v1/agent_pb.ts";
import type { CampaignImpressions, UserProfile } from "../../gen/chorus/v1/agent_signals_pb.ts";
import type { Campaign, Targeting } from "../../gen/chorus/v1/campaign_pb.ts";
import { AgeBracket } from "../../gen/chorus/v1/common_pb.ts";
import type { DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";

export interface Ineligibility {
  reason: VetoReason;
  detail: string;
}

/** What the targeting rules read from a decide besides the campaign. */
export interface TargetingMoment {
  readonly request: DecideRequest;
  readonly profile: UserProfile | undefined;
  /** Hour of day, UTC. */
  readonly hour: number;
}

/**
 * One targeting rule: `key` names everything it reads from the moment, so that its verdicts on a whole inventory
 * can be computed once per key and reused (targeting-index.ts); `check` is the rule itself.
 */
export interface TargetingRule {
  readonly name: string;
  key(m: TargetingMoment): string;
  check(t: Targeting, m: TargetingMoment): Ineligibility | undefined;
}

const liked = (taste: Record<string, number> | undefined) =>
  Object.entries(taste ?? {})
    .filter(([, a]) => a > 0)
    .map(([v]) => v);

/**
 * The rules in the order they are checked: consent first (a legal matter), then geo, age bracket, device, hour of
 * day (UTC), content kind, genre and mood. Genre and mood match the moment's context, or the listener's learned
 * taste when the context does not say.
 */
export const TARGETING_RULES: readonly TargetingRule[] = [
  {
    name: "consent",
    key: (m) => (m.request.user?.consent?.personalizedAds ? "1" : "0"),
    check: (t, m) =>
      t.requirePersonalizationConsent && !m.request.user?.consent?.personalizedAds
        ? { reason: VetoReason.CONSENT, detail: "consent: campaign requires personalised-ads consent" }
        : undefined,
  },
  {
    name: "geo",
    key: (m) => m.request.user?.geo?.country ?? "",
    check: (t, m) => {
      const country = m.request.user?.geo?.country ?? "";
      if (t.countries.length === 0 || t.countries.includes(country)) return undefined;
      return {
        reason: VetoReason.TARGETING,
        detail: `geo: ${country || "unknown country"} not in ${t.countries.join(",")}`,
      };
    },
  },
  {
    name: "age",
    key: (m) => String(m.request.user?.ageBracket ?? AgeBracket.AGE_BRACKET_UNSPECIFIED),
    check: (t, m) => {
      const age = m.request.user?.ageBracket ?? AgeBracket.AGE_BRACKET_UNSPECIFIED;
      if (t.ageBrackets.length === 0 || t.ageBrackets.includes(age)) return undefined;
      return { reason: VetoReason.TARGETING, detail: `age: ${AgeBracket[age]} not targeted` };
    },
  },
  {
    name: "device",
    key: (m) => String(m.request.device?.type ?? 0),
    check: (t, m) => {
      const device = m.request.device?.type ?? 0;
      if (t.deviceTypes.length === 0 || t.deviceTypes.includes(device)) return undefined;
      return { reason: VetoReason.TARGETING, detail: `device: type ${device} not targeted` };
    },
  },
  {
    name: "daypart",
    key: (m) => String(m.hour),
    check: (t, m) =>
      t.hours.length > 0 && !t.hours.includes(m.hour)
        ? { reason: VetoReason.TARGETING, detail: `daypart: hour ${m.hour} UTC not targeted` }
        : undefined,
  },
  {
    name: "content kind",
    key: (m) => String(m.request.context?.contentKind ?? 0),
    check: (t, m) => {
      const kind = m.request.context?.contentKind;
      if (t.contentKinds.length === 0 || !kind || t.contentKinds.includes(kind)) return undefined;
      return { reason: VetoReason.TARGETING, detail: `content kind ${kind} not targeted` };
    },
  },
  {
    name: "genre",
    key: (m) => {
      const genre = m.request.context?.genre;
      return genre ? `c:${genre}` : `t:${liked(m.profile?.genreAffinity).join("\u0000")}`;
    },
    check: (t, m) => {
      const ctx = m.request.context;
      const genres = t.genres.map((g) => g.toLowerCase());
      if (genres.length === 0 || matches(genres, ctx?.genre ? [ctx.genre] : [], m.profile?.genreAffinity))
        return undefined;
      return {
        reason: VetoReason.TARGETING,
        detail: `genre: ${ctx?.genre || "listener taste"} not in ${genres.join(",")}`,
      };
    },
  },
  {
    name: "mood",
    key: (m) => {
      const moods = m.request.context?.moodTags ?? [];
      return moods.length > 0 ? `c:${moods.join("\u0000")}` : `t:${liked(m.profile?.moodAffinity).join("\u0000")}`;
    },
    check: (t, m) => {
      const ctx = m.request.context;
      const moods = t.moods.map((x) => x.toLowerCase());
      if (moods.length === 0 || matches(moods, ctx?.moodTags ?? [], m.profile?.moodAffinity)) return undefined;
      return {
        reason: VetoReason.TARGETING,
        detail: `mood: ${ctx?.moodTags.join(",") || "listener taste"} not in ${moods.join(",")}`,
      };
    },
  },
];

/** Hour of day (UTC) of a wall time. */
export const utcHour = (nowMs: number) => new Date(nowMs).getUTCHours();

/**
 * Why a campaign may not serve this request, or undefined when it may: the first of TARGETING_RULES that
 * excludes it, then the frequency cap.
 */
export function checkTargeting(
  campaign: Campaign,
  request: DecideRequest,
  profile: UserProfile | undefined,
  nowMs: number,
): Ineligibility | undefined {
  const t = campaign.targeting;
  if (t) {
    const moment = { request, profile, hour: utcHour(nowMs) };
    for (const rule of TARGETING_RULES) {
      const no = rule.check(t, moment);
      if (no) return no;
    }
  }
  return checkFrequencyCap(
    campaign,
    profile?.impressions.find((h) => h.campaignId === campaign.id),
    nowMs,
  );
}

/** The frequency cap, from the listener's impressions of this campaign (undefined: none recorded). */
export function checkFrequencyCap(
  campaign: Campaign,
  history: CampaignImpressions | undefined,
  nowMs: number,
): Ineligibility | undefined {
  const cap = campaign.frequencyCap;
  if (!cap || cap.maxImpressions <= 0 || !history) return undefined;
  const since = nowMs - cap.windowSeconds * 1000;
  let seen = 0;
  for (const t of history.atMs) if (Number(t) > since) seen++;
  if (seen < cap.maxImpressions) return undefined;
  return {
    reason: VetoReason.FREQUENCY_CAP,
    detail: `frequency cap: ${seen} impressions in ${cap.windowSeconds} s (max ${cap.maxImpressions})`,
  };
}

/**
 * The context's values when it has any; otherwise the learned taste (any positive affinity); with neither, the
 * rule cannot be checked and does not exclude.
 */
function matches(
  targeted: readonly string[],
  context: readonly string[],
  taste: Record<string, number> | undefined,
): boolean {
  if (context.length > 0) return context.some((v) => targeted.includes(v.toLowerCase()));
  const liked = Object.entries(taste ?? {}).filter(([, a]) => a > 0);
  if (liked.length === 0) return true;
  return liked.some(([v]) => targeted.includes(v));
}
