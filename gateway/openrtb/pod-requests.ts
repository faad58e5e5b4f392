import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import countries from "i18n-iso-countries";
import type { Audio, BidRequest, Imp, Video } from "iab-openrtb/v26";
import { AdFormat, AgeBracket, BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import { type DecideRequest, DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { HttpError } from "../server/http-endpoints.ts";

/** One ad break offered by an exchange: the impressions sharing a podid (or one impression without it). */
export interface Pod {
  key: string;
  format: AdFormat.AUDIO | AdFormat.VIDEO;
  /** Structured slots first by slot position, the dynamic impression (poddur) last. */
  imps: PodImp[];
}

export interface PodImp {
  imp: Imp;
  media: Audio | Video;
  /** Floor per impression in the account currency's micros (bidfloor converted), 0 without one. */
  floorMicros: bigint;
}

/** Converts amounts between the account currency and the others an exchange may use. */
export interface Currencies {
  /** The account currency (ISO 4217). */
  account: string;
  /** Units of `currency` per unit of the account currency; undefined when unknown. */
  rate(currency: string): number | undefined;
}

/**
 * Groups the audio and video impressions into pods. Impressions that are neither (banner, native) are not for
 * Chorus: they get no bid. A field combination the spec forbids is a 400 naming it.
 */
export function podsOf(request: BidRequest, currencies: Currencies): Pod[] {
  const pods = new Map<string, Pod>();
  request.imp.forEach((imp, i) => {
    const media = imp.audio ?? imp.video;
    if (!media) return;
    const at = `imp[${i}].${imp.audio ? "audio" : "video"}`;
    if (media.rqddurs && (media.minduration !== undefined || media.maxduration !== undefined))
      throw new HttpError(
        400,
        `${at}.rqddurs: not allowed together with minduration or maxduration (OpenRTB 2.6 §3.2.7)`,
      );
    if (media.minduration !== undefined && media.maxduration !== undefined && media.minduration > media.maxduration)
      throw new HttpError(400, `${at}.minduration: ${media.minduration} is over maxduration ${media.maxduration}`);
    const floorCurrency = imp.bidfloorcur ?? "USD";
    const rate = currencies.rate(floorCurrency);
    if (imp.bidfloor && rate === undefined)
      throw new HttpError(400, `imp[${i}].bidfloorcur: no exchange rate configured for ${floorCurrency}`);
    // CPM in the floor's currency -> micros per impression in the account currency: / rate x 1e6 / 1000.
    const floorMicros = imp.bidfloor ? BigInt(Math.ceil(((imp.bidfloor / rate!) * 1e6) / 1000)) : 0n;
    const key = media.podid ? `pod:${media.podid}` : `imp:${imp.id}`;
    const format = imp.audio ? AdFormat.AUDIO : AdFormat.VIDEO;
    const pod = pods.get(key) ?? { key, format, imps: [] };
    pods.set(key, pod);
    pod.imps.push({ imp, media, floorMicros });
  });
  for (const pod of pods.values()) pod.imps.sort((a, b) => slotOrder(a.media) - slotOrder(b.media));
  return [...pods.values()];
}

/** First-slot impressions first, last-slot ones after the unconstrained, the dynamic portion at the end. */
function slotOrder(m: Audio | Video): number {
  if (m.poddur) return 4;
  const slot = (m.slotinpod as number | undefined) ?? 0;
  return slot === 1 ? 0 : slot === -1 ? 3 : slot === 2 ? 1 : 2;
}

/** Longest single ad an impression takes, in seconds (Infinity when the request does not say). */
export function maxAdSeconds(m: Audio | Video): number {
  if (m.rqddurs) return Math.max(...m.rqddurs);
  return m.maxduration ?? m.poddur ?? Number.POSITIVE_INFINITY;
}

const MAX_POD_MS = 600_000;
const DEFAULT_POD_MS = 120_000;

/** The DecideRequest of one pod: the whole break in one decision, so separation and pacing see every slot. */
export function decideRequestOf(request: BidRequest, pod: Pod, deadlineMs: number): DecideRequest {
  const dynamic = pod.imps.find((p) => p.media.poddur);
  const structured = pod.imps.filter((p) => p !== dynamic);
  let maxSeconds = structured.reduce((s, p) => s + Math.min(maxAdSeconds(p.media), MAX_POD_MS / 1000), 0);
  if (dynamic) maxSeconds += dynamic.media.poddur!;
  const maxDurationMs = Math.min(MAX_POD_MS, Math.round(maxSeconds * 1000) || DEFAULT_POD_MS);
  const dynamicSlots = dynamic ? dynamic.media.maxseq || 16 : 0;
  const maxAds = Math.max(1, Math.min(16, structured.length + dynamicSlots));
  const first = pod.imps[0]!;
  const content = request.app?.content ?? request.site?.content;
  const regs = request.regs;
  const privacy = privacyOf(request);
  const country = request.device?.geo?.country;
  const alpha2 = country ? countries.alpha3ToAlpha2(country) : "";
  if (country && !alpha2)
    throw new HttpError(400, `device.geo.country: "${country}" is not an ISO 3166-1 alpha-3 country code`);
  const video = pod.format === AdFormat.VIDEO;
  return create(DecideRequestSchema, {
    // One decision per BidRequest and pod: an exchange's retry of the same request is the same decision.
    requestId: `ortb:${digest(`${request.id}\u0000${pod.key}`)}`,
    placement: {
      placementId: (first.imp.tagid ?? "").slice(0, 128),
      breakKind: breakKindOf(first.media),
      maxDurationMs,
      maxAds,
      allowedFormats: [pod.format],
      floorPriceMicros: pod.imps.reduce((m, p) => (p.floorMicros > m ? p.floorMicros : m), 0n),
      // The exchange sells a break that is happening: Timing does not get to postpone it.
      forceNow: true,
    },
    user: {
      userId: userIdOf(request),
      consent: privacy,
      ageBracket: regs?.coppa === 1 ? AgeBracket.AGE_BRACKET_UNDER_18 : AgeBracket.AGE_BRACKET_UNSPECIFIED,
      geo: { country: alpha2 || "", region: (request.device?.geo?.region ?? "").slice(0, 8) },
    },
    device: {
      type: deviceTypeOf(request),
      os: (request.device?.os ?? "").slice(0, 64),
      screenOn: video,
      foreground: video,
      appId: (request.app?.bundle ?? request.app?.id ?? "").slice(0, 128),
      appVersion: (request.app?.ver ?? "").slice(0, 64),
    },
    context: {
      contentKind: contentKindOf(content?.context as number | undefined, pod.format),
      contentId: (content?.id ?? "").slice(0, 128),
      genre: (content?.genre ?? "").slice(0, 64),
      contentDurationMs: content?.len ? Math.min(content.len * 1000, 0xffffffff) : 0,
    },
    deadlineMs,
  });
}

/** AdCOM start delay: 0 pre-roll, >0 or -1 mid-roll, -2 post-roll; else the pod's sequence in the stream. */
function breakKindOf(m: Audio | Video): BreakKind {
  const delay = m.startdelay as number | undefined;
  if (delay === 0) return BreakKind.PRE_ROLL;
  if (delay === -2) return BreakKind.POST_ROLL;
  if (delay !== undefined) return BreakKind.MID_ROLL;
  if (m.podseq === 1) return BreakKind.PRE_ROLL;
  if (m.podseq === -1) return BreakKind.POST_ROLL;
  return BreakKind.MID_ROLL;
}

/** AdCOM device types: 1 mobile/tablet, 2 PC, 3 connected TV, 4 phone, 5 tablet, 6 connected device, 7 set-top box. */
function deviceTypeOf(request: BidRequest): DeviceType {
  switch (request.device?.devicetype as number | undefined) {
    case 2:
      return DeviceType.DESKTOP;
    case 3:
    case 7:
      return DeviceType.TV;
    case 5:
      return DeviceType.TABLET;
    case 6:
      return DeviceType.SMART_SPEAKER;
    case 1:
    case 4:
      return DeviceType.PHONE;
    default:
      return request.app ? DeviceType.PHONE : DeviceType.WEB;
  }
}

/** AdCOM content context: 1 video, 3 music; otherwise what the impression plays. */
function contentKindOf(context: number | undefined, format: AdFormat): ContentKind {
  if (context === 1) return ContentKind.VIDEO;
  if (context === 3) return ContentKind.MUSIC;
  return format === AdFormat.VIDEO ? ContentKind.VIDEO : ContentKind.UNSPECIFIED;
}

/**
 * Consent from the regulation signals, conservatively: under GDPR (regs.gdpr, or GPP with the EU TCF section 2)
 * or COPPA nothing is personalised and nothing measured across sessions (the TCF string is not decoded); a CCPA
 * opt-out of sale (us_privacy "1-Y-") turns personalisation off.
 */
function privacyOf(request: BidRequest): { personalizedAds: boolean; measurement: boolean } {
  const regs = request.regs;
  const gdpr = regs?.gdpr === 1 || (regs?.gpp_sid ?? []).includes(2);
  if (gdpr || regs?.coppa === 1) return { personalizedAds: false, measurement: false };
  const optedOut = /^\d.[Yy]/.test(regs?.us_privacy ?? "");
  return { personalizedAds: !optedOut, measurement: true };
}

/**
 * A pseudonym for the listener: the exchange's ids are hashed at the door (Chorus never keeps raw ids); without
 * any id the request is its own user (no frequency capping across requests).
 */
function userIdOf(request: BidRequest): string {
  const raw = request.user?.id || request.user?.buyeruid || request.device?.ifa;
  return raw ? `ortb-${digest(raw)}` : `ortb-anon-${digest(request.id)}`;
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, 32);
}
