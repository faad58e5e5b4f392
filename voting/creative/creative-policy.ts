import { VetoReason } from "../../gen/chorus/v1/agent_pb.ts";
import type { Advertiser, Creative } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat, AgeBracket } from "../../gen/chorus/v1/common_pb.ts";
import type { DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";
import { topLevelCategory } from "../../lib/features/feature-space.ts";

export interface PolicyRejection {
  reason: VetoReason;
  detail: string;
}

/** Which formats the device can show at this moment: audio always; video only in the foreground; interactive on touch. */
export function formatsForDevice(request: DecideRequest): Set<AdFormat> {
  const d = request.device;
  const visible = d?.screenOn === true && d.foreground === true;
  const out = new Set([AdFormat.AUDIO]);
  if (visible) out.add(AdFormat.VIDEO).add(AdFormat.DISPLAY);
  if (visible && d?.touch) out.add(AdFormat.INTERACTIVE);
  const allowed = request.placement?.allowedFormats ?? [];
  if (allowed.length > 0) for (const f of out) if (!allowed.includes(f)) out.delete(f);
  return out;
}

const MIME_PREFIX: Partial<Record<AdFormat, string[]>> = {
  [AdFormat.AUDIO]: ["audio/"],
  [AdFormat.VIDEO]: ["video/"],
  [AdFormat.DISPLAY]: ["image/", "text/html"],
  [AdFormat.INTERACTIVE]: ["video/", "text/html", "application/"],
};

/** Missing or malformed fields a player would choke on. */
export function creativeDefect(creative: Creative): string | undefined {
  if (!creative.mediaUrl) return "media_url is missing";
  try {
    const url = new URL(creative.mediaUrl);
    if (url.protocol !== "https:" && url.protocol !== "http:") return `media_url scheme ${url.protocol} is not http(s)`;
  } catch {
    return `media_url "${creative.mediaUrl}" is not a URL`;
  }
  if (creative.format === AdFormat.UNSPECIFIED) return "format is missing";
  if (creative.durationMs <= 0) return "duration_ms is missing";
  const prefixes = MIME_PREFIX[creative.format] ?? [];
  if (!creative.mimeType) return "mime_type is missing";
  if (!prefixes.some((p) => creative.mimeType.startsWith(p)))
    return `mime_type ${creative.mimeType} does not fit format ${AdFormat[creative.format]}`;
  if (creative.format !== AdFormat.AUDIO && (creative.width === 0 || creative.height === 0))
    return "visual creative without width/height";
  return undefined;
}

/**
 * Every reason a creative may not serve here, first one wins: malformed fields, blocked category, brand safety
 * (the advertiser's blocked genres vs the content), explicit content vs age and consent, format vs device and
 * placement, duration vs break length.
 */
export function checkCreative(
  creative: Creative,
  advertiser: Advertiser | undefined,
  request: DecideRequest,
  blockedCategories: ReadonlySet<string>,
  formats: ReadonlySet<AdFormat>,
): PolicyRejection | undefined {
  const defect = creativeDefect(creative);
  if (defect) return { reason: VetoReason.CREATIVE_INVALID, detail: `creative invalid: ${defect}` };
  const category = creative.iabCategory;
  if (blockedCategories.has(category) || blockedCategories.has(topLevelCategory(category)))
    return { reason: VetoReason.POLICY, detail: `policy: IAB category ${category} is blocked` };
  const genre = request.context?.genre.toLowerCase() ?? "";
  if (genre && advertiser?.blockedGenres.some((g) => g.toLowerCase() === genre))
    return { reason: VetoReason.POLICY, detail: `brand safety: advertiser blocks genre ${genre}` };
  if (creative.explicit) {
    const age = request.user?.ageBracket ?? AgeBracket.AGE_BRACKET_UNSPECIFIED;
    if (age === AgeBracket.AGE_BRACKET_UNSPECIFIED || age === AgeBracket.AGE_BRACKET_UNDER_18)
      return {
        reason: VetoReason.EXPLICIT_CONTENT,
        detail: "explicit creative: listener is a minor or of unknown age",
      };
    if (!request.user?.consent?.personalizedAds)
      return { reason: VetoReason.EXPLICIT_CONTENT, detail: "explicit creative: listener has not consented" };
  }
  if (!formats.has(creative.format))
    return {
      reason: VetoReason.FORMAT_MISMATCH,
      detail: `format: ${AdFormat[creative.format]} cannot play now (allowed: ${[...formats].map((f) => AdFormat[f]).join(",") || "none"})`,
    };
  const maxMs = request.placement?.maxDurationMs ?? 0;
  if (creative.durationMs > maxMs)
    return {
      reason: VetoReason.DURATION_MISMATCH,
      detail: `duration: ${creative.durationMs} ms exceeds the ${maxMs} ms break`,
    };
  return undefined;
}
