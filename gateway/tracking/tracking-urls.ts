import { AdEventType } from "../../gen/chorus/v1/decision_pb.ts";

/**
 * Tracking URLs that point at the gateway: `<base>/t/<event>/<decision id>/<creative id>?chorus_et=<event token>&...`.
 * The event is in the path (a CDN or log pipeline can split traffic by it); the ad is named by decision and
 * creative; the token proves the URL was handed out with that ad. Query parameters carry the VAST macros the
 * player fills in: [TIMESTAMP], [CACHEBUSTING], [CONTENTPLAYHEAD] and, on error URLs, [ERRORCODE].
 */
export const TRACKING_PREFIX = "/t/";

/** Ledger events: a hit goes through ReportEvents' idempotent path (one fact per ad and event). */
export const LEDGER_EVENTS = {
  impression: AdEventType.IMPRESSION,
  start: AdEventType.START,
  firstQuartile: AdEventType.FIRST_QUARTILE,
  midpoint: AdEventType.MIDPOINT,
  thirdQuartile: AdEventType.THIRD_QUARTILE,
  complete: AdEventType.COMPLETE,
  skip: AdEventType.SKIP,
  click: AdEventType.CLICK,
} as const satisfies Record<string, AdEventType>;

/**
 * Player-state events and notices with no ledger fact behind them: counted (metrics) but not stored. `win` is the
 * OpenRTB win notice (nurl); the billing notice (burl) is the impression itself.
 */
export const NOTICE_EVENTS = ["pause", "resume", "mute", "unmute", "error", "win"] as const;

export type LedgerEventName = keyof typeof LEDGER_EVENTS;
export type NoticeEventName = (typeof NOTICE_EVENTS)[number];
export type TrackingEventName = LedgerEventName | NoticeEventName;

/** The VAST <Tracking event="..."> events every linear ad carries. */
export const VAST_TRACKING_EVENTS = [
  "start",
  "firstQuartile",
  "midpoint",
  "thirdQuartile",
  "complete",
  "skip",
  "pause",
  "resume",
  "mute",
  "unmute",
] as const satisfies readonly TrackingEventName[];

export function isTrackingEvent(name: string): name is TrackingEventName {
  return Object.hasOwn(LEDGER_EVENTS, name) || (NOTICE_EVENTS as readonly string[]).includes(name);
}

export interface TrackedAd {
  decisionId: string;
  creativeId: string;
  /** The ad's event token (gateway/auth/event-token.ts), carried as `chorus_et`. */
  eventToken: string;
}

/**
 * How macros are written into URLs. `encoded` (%5BTIMESTAMP%5D) is what RFC 3986 and the IAB schema's xs:anyURI
 * allow in a query (xmllint rejects a literal "[" there); `literal` ([TIMESTAMP]) is what many players replace,
 * vast-client among them. The tracking endpoint reads both, and ignores a macro the player left unreplaced.
 */
export type MacroStyle = "encoded" | "literal";

/** Builds an ad's tracking URLs under one public base URL (a CDN or another domain in front of the gateway). */
export class TrackingUrls {
  /** The base URL, or a function giving it (the gateway's own URL is known only once it listens). */
  constructor(
    private readonly publicBaseUrl: string | (() => string),
    private readonly macroStyle: MacroStyle = "encoded",
  ) {}

  get base(): string {
    const base = typeof this.publicBaseUrl === "string" ? this.publicBaseUrl : this.publicBaseUrl();
    return base.replace(/\/+$/, "");
  }

  url(event: TrackingEventName, ad: TrackedAd, extra = ""): string {
    const path = `${this.base}${TRACKING_PREFIX}${event}/${encodeURIComponent(ad.decisionId)}/${encodeURIComponent(ad.creativeId)}`;
    const token = ad.eventToken ? `chorus_et=${encodeURIComponent(ad.eventToken)}&` : "";
    // Macros stay literal: the player replaces them (VAST 4.2 §6.1); an unreplaced one is ignored on the way in.
    const m = this.macroStyle === "literal" ? (name: string) => `[${name}]` : (name: string) => `%5B${name}%5D`;
    const error = event === "error" ? `ec=${m("ERRORCODE")}&` : "";
    return `${path}?${token}${error}${extra}ts=${m("TIMESTAMP")}&cb=${m("CACHEBUSTING")}&ph=${m("CONTENTPLAYHEAD")}`;
  }
}

export interface TrackingHit {
  event: TrackingEventName;
  decisionId: string;
  creativeId: string;
  eventToken: string;
  /** [TIMESTAMP] when the player filled it in with a valid ISO 8601 time. */
  timestampMs: number | undefined;
  /** [CONTENTPLAYHEAD] in ms when filled in. */
  contentPlayheadMs: number | undefined;
  /** [ERRORCODE] when filled in (VAST error codes are 100-999). */
  errorCode: number | undefined;
}

export type ParsedHit = { ok: true; hit: TrackingHit } | { ok: false; field: string; message: string };

const MAX_ID = 128;

/** Reads a tracking hit from the request path and query; names the offending part when it is malformed. */
export function parseTrackingHit(pathname: string, query: URLSearchParams): ParsedHit {
  const parts = pathname.slice(TRACKING_PREFIX.length).split("/");
  if (parts.length !== 3) return bad("path", "expected /t/<event>/<decision id>/<creative id>");
  const [event, rawDecision, rawCreative] = parts as [string, string, string];
  if (!isTrackingEvent(event)) return bad("event", `"${event.slice(0, 32)}" is not a tracking event`);
  let decisionId: string;
  let creativeId: string;
  try {
    decisionId = decodeURIComponent(rawDecision);
    creativeId = decodeURIComponent(rawCreative);
  } catch {
    return bad("path", "malformed percent-encoding");
  }
  if (decisionId.length === 0 || decisionId.length > MAX_ID) return bad("decision_id", "must be 1-128 characters");
  if (creativeId.length === 0 || creativeId.length > MAX_ID) return bad("creative_id", "must be 1-128 characters");
  const token = query.get("chorus_et") ?? "";
  if (token.length > 1024) return bad("chorus_et", "longer than 1024 characters");
  return {
    ok: true,
    hit: {
      event,
      decisionId,
      creativeId,
      eventToken: token,
      timestampMs: parseTimestampMacro(query.get("ts")),
      contentPlayheadMs: parsePlayheadMacro(query.get("ph")),
      errorCode: parseErrorCodeMacro(query.get("ec")),
    },
  };
}

function bad(field: string, message: string): ParsedHit {
  return { ok: false, field, message };
}

/** A macro the player did not replace arrives as itself ("[TIMESTAMP]" or its percent-encoded form). */
function filled(value: string | null): string | undefined {
  if (value === null || value === "" || value.startsWith("[") || value.startsWith("%5B")) return undefined;
  return value;
}

/** [TIMESTAMP]: ISO 8601 with time zone, e.g. 2016-01-17T08:15:07.127-05:00 (VAST 4.2 §6.1.3). */
export function parseTimestampMacro(value: string | null): number | undefined {
  const v = filled(value);
  if (!v || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/.test(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : undefined;
}

/** [CONTENTPLAYHEAD] / [ADPLAYHEAD]: HH:MM:SS.mmm. */
export function parsePlayheadMacro(value: string | null): number | undefined {
  const m = /^(\d{1,3}):([0-5]\d):([0-5]\d)(?:\.(\d{1,3}))?$/.exec(filled(value) ?? "");
  if (!m) return undefined;
  return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number((m[4] ?? "0").padEnd(3, "0"));
}

/** [ERRORCODE]: a VAST error code, 100-999. */
export function parseErrorCodeMacro(value: string | null): number | undefined {
  const v = filled(value);
  if (!v || !/^\d{3}$/.test(v)) return undefined;
  const code = Number(v);
  return code >= 100 ? code : undefined;
}
