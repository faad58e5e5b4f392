import { VetoReason } from "../../gen/chorus/v1/agent_pb.ts";
import type { UserProfile } from "../../gen/chorus/v1/agent_signals_pb.ts";
import type { Campaign } from "../../gen/chorus/v1/campaign_pb.ts";
import { AgeBracket } from "../../gen/chorus/v1/common_pb.ts";
import type { DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";

export interface Ineligibility {
  reason: VetoReason;
  detail: string;
}

/**
 * Why a campaign may not serve this request, or undefined when it may. Rules: consent first (a legal matter),
 * then geo, age bracket, device, hour of day (UTC), content kind, genre and mood, then the frequency cap.
 * Genre and mood match the moment's context, or the listener's learned taste when the context does not say.
 */
export function checkTargeting(
  campaign: Campaign,
  request: DecideRequest,
  profile: UserProfile | undefined,
  nowMs: number,
): Ineligibility | undefined {
  const t = campaign.targeting;
  const user = request.user;
  const ctx = request.context;
  if (t?.requirePersonalizationConsent && !user?.consent?.personalizedAds)
    return { reason: VetoReason.CONSENT, detail: "consent: campaign requires personalised-ads consent" };
  if (t) {
    const country = user?.geo?.country ?? "";
    if (t.countries.length > 0 && !t.countries.includes(country))
      return {
        reason: VetoReason.TARGETING,
        detail: `geo: ${country || "unknown country"} not in ${t.countries.join(",")}`,
      };
    const age = user?.ageBracket ?? AgeBracket.AGE_BRACKET_UNSPECIFIED;
    if (t.ageBrackets.length > 0 && !t.ageBrackets.includes(age))
      return { reason: VetoReason.TARGETING, detail: `age: ${AgeBracket[age]} not targeted` };
    const device = request.device?.type ?? 0;
    if (t.deviceTypes.length > 0 && !t.deviceTypes.includes(device))
      return { reason: VetoReason.TARGETING, detail: `device: type ${device} not targeted` };
    const hour = new Date(nowMs).getUTCHours();
    if (t.hours.length > 0 && !t.hours.includes(hour))
      return { reason: VetoReason.TARGETING, detail: `daypart: hour ${hour} UTC not targeted` };
    if (t.contentKinds.length > 0 && ctx?.contentKind && !t.contentKinds.includes(ctx.contentKind))
      return { reason: VetoReason.TARGETING, detail: `content kind ${ctx.contentKind} not targeted` };
    const genres = t.genres.map((g) => g.toLowerCase());
    if (genres.length > 0 && !matches(genres, ctx?.genre ? [ctx.genre] : [], profile?.genreAffinity))
      return {
        reason: VetoReason.TARGETING,
        detail: `genre: ${ctx?.genre || "listener taste"} not in ${genres.join(",")}`,
      };
    const moods = t.moods.map((m) => m.toLowerCase());
    if (moods.length > 0 && !matches(moods, ctx?.moodTags ?? [], profile?.moodAffinity))
      return {
        reason: VetoReason.TARGETING,
        detail: `mood: ${ctx?.moodTags.join(",") || "listener taste"} not in ${moods.join(",")}`,
      };
  }
  const cap = campaign.frequencyCap;
  if (cap && cap.maxImpressions > 0 && profile) {
    const since = nowMs - cap.windowSeconds * 1000;
    const seen =
      profile.impressions.find((h) => h.campaignId === campaign.id)?.atMs.filter((t) => Number(t) > since).length ?? 0;
    if (seen >= cap.maxImpressions)
      return {
        reason: VetoReason.FREQUENCY_CAP,
        detail: `frequency cap: ${seen} impressions in ${cap.windowSeconds} s (max ${cap.maxImpressions})`,
      };
  }
  return undefined;
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
