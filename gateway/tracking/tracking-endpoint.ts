import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type AdEvent,
  AdEventSchema,
  EventRejection,
  EventResult_Status,
  type ReportEventsResponse,
} from "../../gen/chorus/v1/decision_pb.ts";
import { type HttpEndpoint, HttpError, header, sendBody } from "../server/http-endpoints.ts";
import {
  LEDGER_EVENTS,
  type LedgerEventName,
  parseTrackingHit,
  TRACKING_PREFIX,
  type TrackingEventName,
  type TrackingHit,
} from "./tracking-urls.ts";

/** The classic 1x1 transparent GIF (43 bytes), for players and pages that load tracking URLs as images. */
export const PIXEL_GIF = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");

/** Player clocks within this much of the server's are believed for [TIMESTAMP]; others get the server's time. */
const TRUSTED_SKEW_MS = 60_000;

export interface TrackingCounters {
  /** One per hit: event name and result (accepted, duplicate, rejected, noted, invalid). */
  hit(event: string, result: string): void;
  /** VAST error codes reported through [ERRORCODE]. */
  vastError(code: number): void;
}

export interface TrackingEndpointOptions {
  /** ReportEvents' path: the event token checked per event, then the ledger's exactly-once store. */
  report(events: AdEvent[]): Promise<ReportEventsResponse>;
  /** The event token check alone, for hits with no ledger fact (pause, mute, error, win). */
  verifyToken(token: string, decisionId: string, creativeId: string): { ok: true } | { ok: false; message: string };
  counters?: TrackingCounters;
  clock?: () => number;
}

/**
 * GET /t/<event>/<decision>/<creative>?chorus_et=<event token>: a tracking hit. It needs no API key (a pixel
 * cannot send one): the ad's event token is the credential, checked for every event. Ledger events (impression, quartiles, complete, skip,
 * click) become one AdEvent on ReportEvents' path: the same receipt checks, the same exactly-once store. The
 * event id is derived from the ad and the event, so a pixel fired twice, or by the player and the exchange's
 * billing notice both, is counted once. Answers 204, or the 1x1 GIF when the client asks for an image.
 */
export function trackingEndpoint({
  report,
  verifyToken,
  counters,
  clock = Date.now,
}: TrackingEndpointOptions): HttpEndpoint {
  return {
    method: "GET",
    path: TRACKING_PREFIX,
    async handle(req, res, url) {
      const parsed = parseTrackingHit(url.pathname, url.searchParams);
      if (!parsed.ok) {
        counters?.hit("invalid", "invalid");
        throw new HttpError(400, `${parsed.field}: ${parsed.message}`);
      }
      const hit = parsed.hit;
      const result = isLedgerEvent(hit.event) ? await storeEvent(hit, hit.event) : noted(hit);
      // A pixel without a valid event token (forged, expired, for another ad) counts nothing, whatever the event.
      counters?.hit(hit.event, result.status);
      if (result.status === "rejected")
        throw new HttpError(result.httpStatus, result.reason, { "x-chorus-event-status": "rejected" });
      const wantsImage = url.searchParams.get("fmt") === "gif" || /image\//.test(header(req.headers, "accept") ?? "");
      const headers = {
        "x-chorus-event-status": result.status,
        // Pixels are fired cross-origin by web players; they carry no credentials.
        "access-control-allow-origin": "*",
        "cache-control": "no-store, no-cache, must-revalidate",
        pragma: "no-cache",
      };
      if (wantsImage) sendBody(res, 200, "image/gif", PIXEL_GIF, headers);
      else sendBody(res, 204, "text/plain", Buffer.alloc(0), headers);
    },
  };

  async function storeEvent(hit: TrackingHit, name: LedgerEventName): Promise<HitResult> {
    const now = clock();
    const playerTime = hit.timestampMs;
    const occurredMs =
      playerTime !== undefined && Math.abs(playerTime - now) <= TRUSTED_SKEW_MS ? Math.min(playerTime, now) : now;
    const event = create(AdEventSchema, {
      eventId: trackingEventId(hit),
      decisionId: hit.decisionId,
      creativeId: hit.creativeId,
      type: LEDGER_EVENTS[name],
      occurredAt: timestampFromMs(occurredMs),
      eventToken: hit.eventToken,
    });
    const r = (await report([event])).results[0];
    if (!r || r.status === EventResult_Status.REJECTED)
      return {
        status: "rejected",
        httpStatus: r && TOKEN_REJECTIONS.has(r.rejection) ? 403 : 422,
        reason: r?.reason || "event rejected",
      };
    return { status: r.status === EventResult_Status.DUPLICATE ? "duplicate" : "accepted" };
  }

  function noted(hit: TrackingHit): HitResult {
    const check = verifyToken(hit.eventToken, hit.decisionId, hit.creativeId);
    if (!check.ok) return { status: "rejected", httpStatus: 403, reason: check.message };
    if (hit.event === "error" && hit.errorCode !== undefined) counters?.vastError(hit.errorCode);
    return { status: "noted" };
  }
}

const TOKEN_REJECTIONS = new Set([
  EventRejection.MISSING_TOKEN,
  EventRejection.INVALID_TOKEN,
  EventRejection.EXPIRED_TOKEN,
]);

type HitResult =
  | { status: "accepted" | "duplicate" | "noted" }
  | { status: "rejected"; httpStatus: number; reason: string };

function isLedgerEvent(event: TrackingEventName): event is LedgerEventName {
  return Object.hasOwn(LEDGER_EVENTS, event);
}

/**
 * One event id per ad and event: repeats of a pixel (retries, double firing, burl and the VAST impression) share
 * it, so JetStream's duplicate window catches them cheaply; the ledger's one-fact-per-subject rule catches the rest.
 */
export function trackingEventId(hit: Pick<TrackingHit, "event" | "decisionId" | "creativeId">): string {
  const digest = createHash("sha256").update(`${hit.event}\u0000${hit.decisionId}\u0000${hit.creativeId}`);
  return `t-${digest.digest("base64url")}`;
}
