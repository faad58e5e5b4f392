import { XMLBuilder } from "fast-xml-parser";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import { type DecideResponse, NoFillReason, type PodAd } from "../../gen/chorus/v1/decision_pb.ts";
import { type TrackingEventName, type TrackingUrls, VAST_TRACKING_EVENTS } from "../tracking/tracking-urls.ts";

/** VAST 4.2 documents must carry the IAB namespace to validate against the IAB's schema. */
export const VAST_NAMESPACE = "http://www.iab.com/VAST";
export const VAST_VERSION = "4.2";
export const VAST_CONTENT_TYPE = "application/xml; charset=utf-8";
const IAB_CONTENT_TAXONOMY = "https://iabtechlab.com/standards/content-taxonomy";

/** What the catalog knows about a creative beyond the PodAd (MIME type, size, names for people). */
export interface CreativeDetails {
  mimeType: string;
  width: number;
  height: number;
  title: string;
  advertiser: string;
}

export type CreativeLookup = (creativeId: string) => Partial<CreativeDetails> | undefined;

export interface VastOptions {
  tracking: TrackingUrls;
  /** ISO 4217 code of the account currency, for <Pricing>. */
  currency: string;
  creatives?: CreativeLookup;
  /** <Expires>: seconds a player may hold the ad before playing it (the ledger's impression window). */
  expiresSeconds?: number;
  adSystemVersion?: string;
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  textNodeName: "#text",
  cdataPropName: "#cdata",
  commentPropName: "#comment",
  processEntities: true,
  suppressBooleanAttributes: false,
});

/**
 * The VAST 4.2 document of a decided pod: one <Ad sequence="n"> per ad, each an InLine with the ad server's
 * tracking (impression, quartiles, player events, clicks, errors with [ERRORCODE]) next to the creative's own
 * third-party URLs. Element order follows the IAB's XSD, which is what the tests validate against.
 *
 * An empty pod is an empty VAST. The 4.2 schema allows only <Ad> or <Error> under <VAST> (no <Extensions> at the
 * root), so the no-fill reason is named where the schema permits: in the <Error> URL (`nofill=<reason>`, fired by
 * the player with [ERRORCODE] 303 "no ads"), in a comment, and in the response's x-chorus-no-fill header.
 */
export function vastDocument(response: DecideResponse, options: VastOptions): string {
  const root: Record<string, unknown> = { "@_version": VAST_VERSION, "@_xmlns": VAST_NAMESPACE };
  if (response.ads.length === 0) {
    const reason = noFillReasonName(response.noFillReason);
    root["#comment"] = ` no fill: ${reason} `;
    const url = options.tracking.url(
      "error",
      { decisionId: response.decisionId || "none", creativeId: "nofill", eventToken: "" },
      `nofill=${reason}&`,
    );
    root.Error = { "#cdata": url };
  } else {
    root.Ad = response.ads.map((ad) => vastAd(response, ad, options));
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ VAST: root })}`;
}

/** The VAST document of one ad of the pod (OpenRTB's adm: one bid, one ad). */
export function vastDocumentForAd(response: DecideResponse, ad: PodAd, options: VastOptions): string {
  return vastDocument({ ...response, ads: [ad] }, options);
}

export function noFillReasonName(reason: NoFillReason): string {
  return (NoFillReason[reason] ?? "UNSPECIFIED").toLowerCase();
}

function vastAd(response: DecideResponse, ad: PodAd, options: VastOptions): Record<string, unknown> {
  const tracked = {
    decisionId: response.decisionId,
    creativeId: ad.creativeId,
    eventToken: ad.eventToken,
  };
  const ours = (event: TrackingEventName) => cdata(options.tracking.url(event, tracked));
  const theirs = ad.tracking;
  const details = options.creatives?.(ad.creativeId) ?? {};
  const audio = ad.format === AdFormat.AUDIO;
  const mimeType = details.mimeType || guessMimeType(ad.mediaUrl, audio);
  const streaming = /\.(m3u8|mpd)(\?|$)/i.test(ad.mediaUrl) || /mpegurl|dash\+xml/i.test(mimeType);
  const thirdParty: Partial<Record<TrackingEventName, readonly string[]>> = {
    start: theirs?.start,
    firstQuartile: theirs?.firstQuartile,
    midpoint: theirs?.midpoint,
    thirdQuartile: theirs?.thirdQuartile,
    complete: theirs?.complete,
    skip: theirs?.skip,
  };
  const tracking = VAST_TRACKING_EVENTS.flatMap((event) => [
    { "@_event": event, ...ours(event) },
    ...(thirdParty[event] ?? []).map((url) => ({ "@_event": event, ...cdata(url) })),
  ]);
  const linear: Record<string, unknown> = {
    TrackingEvents: { Tracking: tracking },
    Duration: vastDuration(ad.durationMs),
    MediaFiles: {
      MediaFile: {
        "@_id": ad.creativeId,
        "@_delivery": streaming ? "streaming" : "progressive",
        "@_type": mimeType,
        "@_width": audio ? 0 : details.width || 0,
        "@_height": audio ? 0 : details.height || 0,
        ...cdata(ad.mediaUrl),
      },
    },
    VideoClicks: {
      ClickTracking: [{ "@_id": "chorus", ...ours("click") }, ...(theirs?.click ?? []).map(cdata)],
      ...(ad.clickUrl ? { ClickThrough: cdata(ad.clickUrl) } : {}),
    },
  };
  const inline: Record<string, unknown> = {
    AdSystem: { "@_version": options.adSystemVersion ?? "1", "#text": "Chorus" },
    Error: ours("error"),
    Extensions: {
      Extension: {
        "@_type": "chorus",
        DecisionId: response.decisionId,
        CampaignId: ad.campaignId,
        InsertionOffsetMs: ad.insertionOffsetMs,
        ...(response.coordination ? { Coordination: response.coordination } : {}),
        ...(response.degradedAgents.length > 0
          ? { DegradedAgent: response.degradedAgents.map((d) => ({ "@_agent": d.agent })) }
          : {}),
      },
    },
    Impression: [{ "@_id": "chorus", ...ours("impression") }, ...(theirs?.impression ?? []).map(cdata)],
    Pricing: { "@_model": "CPM", "@_currency": options.currency, "#text": cpmText(ad.priceMicros) },
    // Unique per InLine (the schema asks for it); the decision id stays recognisable at its start.
    AdServingId: `${response.decisionId}-${ad.sequence}`,
    AdTitle: details.title || ad.creativeId,
    Advertiser: details.advertiser || ad.advertiserId,
    ...(ad.iabCategory ? { Category: { "@_authority": IAB_CONTENT_TAXONOMY, "#text": ad.iabCategory } } : {}),
    Creatives: {
      Creative: {
        "@_id": ad.creativeId,
        "@_adId": ad.creativeId,
        "@_sequence": 1,
        Linear: linear,
        // Required by the schema; "unknown" is the spec's value when no registry id exists (VAST 4.2 §3.7.1).
        UniversalAdId: { "@_idRegistry": "unknown", "#text": "unknown" },
      },
    },
    ...(options.expiresSeconds ? { Expires: options.expiresSeconds } : {}),
  };
  return { "@_id": ad.creativeId, "@_sequence": ad.sequence, "@_adType": audio ? "audio" : "video", InLine: inline };
}

function cdata(url: string): { "#cdata": string } {
  return { "#cdata": url };
}

/** Micros per impression to CPM in currency units: x 1000 / 1e6, exact in integers. */
export function cpmText(priceMicros: bigint): string {
  const negative = priceMicros < 0n;
  const abs = negative ? -priceMicros : priceMicros;
  return `${negative ? "-" : ""}${abs / 1000n}.${String(abs % 1000n).padStart(3, "0")}`;
}

/** VAST <Duration>: HH:MM:SS.mmm. */
export function vastDuration(ms: number): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const s = Math.floor(ms / 1000);
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}.${pad(ms % 1000, 3)}`;
}

const MIME_BY_EXTENSION: Record<string, string> = {
  mp3: "audio/mpeg",
  m4a: "audio/mp4",
  aac: "audio/aac",
  ogg: "audio/ogg",
  opus: "audio/ogg",
  wav: "audio/wav",
  mp4: "video/mp4",
  webm: "video/webm",
  mov: "video/quicktime",
  m3u8: "application/x-mpegURL",
  mpd: "application/dash+xml",
};

/** For creatives stored without a MIME type: from the media URL's extension, else the format's usual type. */
export function guessMimeType(mediaUrl: string, audio: boolean): string {
  const ext = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(mediaUrl)?.[1]?.toLowerCase();
  return (ext && MIME_BY_EXTENSION[ext]) || (audio ? "audio/mpeg" : "video/mp4");
}
