import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { AdFormat, BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import { type DecideRequest, DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { HttpError } from "../server/http-endpoints.ts";

/**
 * The query parameters of GET /vast/v4, one per common request field (names as an ad-tag URL would carry them).
 * Durations and positions are in seconds (decimals allowed), prices as CPM in the account currency.
 */
export const VAST_QUERY = {
  request_id: "idempotency key of the decision (default: a fresh id per request)",
  placement: "placement id",
  break: "pre | mid | post (required)",
  max_duration: "longest total pod duration, seconds (required)",
  max_ads: "most ads in the pod, 1-16 (default 1)",
  formats: "comma list of audio, video (default: any the device can play)",
  floor_cpm: "reserve price, CPM in the account currency",
  force_now: "1: the break starts now even if a track is playing",
  user: "app-scoped pseudonymous user id (required)",
  consent: "comma list of personalized, measurement",
  country: "ISO 3166-1 alpha-2",
  region: "ISO 3166-2 subdivision without the country",
  device: "phone | tablet | desktop | tv | smart_speaker | car | web (required)",
  os: "operating system",
  screen_on: "1 when the screen is on",
  foreground: "1 when the app is in the foreground",
  app: "app id",
  app_version: "app version",
  session: "listening session id",
  content_kind: "music | podcast | video",
  content_id: "content id",
  genre: "content genre",
  moods: "comma list of mood tags",
  position: "playback position in the content, seconds",
  content_duration: "content duration, seconds",
  deadline_ms: "time budget of the decision, ms",
} as const;

type QueryName = keyof typeof VAST_QUERY;

const BREAKS: Record<string, BreakKind> = {
  pre: BreakKind.PRE_ROLL,
  mid: BreakKind.MID_ROLL,
  post: BreakKind.POST_ROLL,
};
const FORMATS: Record<string, AdFormat> = { audio: AdFormat.AUDIO, video: AdFormat.VIDEO };
const DEVICES: Record<string, DeviceType> = {
  phone: DeviceType.PHONE,
  tablet: DeviceType.TABLET,
  desktop: DeviceType.DESKTOP,
  tv: DeviceType.TV,
  smart_speaker: DeviceType.SMART_SPEAKER,
  car: DeviceType.CAR,
  web: DeviceType.WEB,
};
const CONTENT: Record<string, ContentKind> = {
  music: ContentKind.MUSIC,
  podcast: ContentKind.PODCAST,
  video: ContentKind.VIDEO,
};

/** Proto field paths (as protovalidate names them) back to the query parameter a VAST caller sent. */
export const QUERY_OF_FIELD: Record<string, QueryName> = {
  request_id: "request_id",
  "placement.placement_id": "placement",
  "placement.max_duration_ms": "max_duration",
  "placement.max_ads": "max_ads",
  "placement.floor_price_micros": "floor_cpm",
  "user.user_id": "user",
  "user.geo.country": "country",
  "user.geo.region": "region",
  "device.os": "os",
  "device.app_id": "app",
  "device.app_version": "app_version",
  "context.session_id": "session",
  "context.content_id": "content_id",
  "context.genre": "genre",
  "context.mood_tags": "moods",
  deadline_ms: "deadline_ms",
};

/** Builds the DecideRequest of a VAST request; a missing or malformed parameter is a 400 that names it. */
export function decideRequestFromQuery(q: URLSearchParams): DecideRequest {
  for (const name of q.keys())
    if (!Object.hasOwn(VAST_QUERY, name) && !name.startsWith("x_"))
      throw new HttpError(400, `${name}: unknown query parameter (known: ${Object.keys(VAST_QUERY).join(", ")})`);
  const get = (name: QueryName) => {
    const values = q.getAll(name);
    if (values.length > 1) throw new HttpError(400, `${name}: given ${values.length} times`);
    return values[0];
  };
  const required = (name: QueryName) => {
    const v = get(name);
    if (v === undefined || v === "") throw new HttpError(400, `${name}: required (${VAST_QUERY[name]})`);
    return v;
  };
  const oneOf = <T>(name: QueryName, table: Record<string, T>, value: string | undefined): T | undefined => {
    if (value === undefined || value === "") return undefined;
    if (!Object.hasOwn(table, value))
      throw new HttpError(400, `${name}: "${value.slice(0, 32)}" is not one of ${Object.keys(table).join(", ")}`);
    return table[value];
  };
  const seconds = (name: QueryName, value: string | undefined, max: number): number | undefined => {
    if (value === undefined || value === "") return undefined;
    const n = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || !(n <= max))
      throw new HttpError(400, `${name}: "${value.slice(0, 32)}" is not a number of seconds from 0 to ${max}`);
    return Math.round(n * 1000);
  };
  const integer = (name: QueryName, value: string | undefined, min: number, max: number): number | undefined => {
    if (value === undefined || value === "") return undefined;
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max)
      throw new HttpError(400, `${name}: "${value.slice(0, 32)}" is not an integer from ${min} to ${max}`);
    return n;
  };
  const flag = (name: QueryName) => {
    const v = get(name);
    if (v === undefined || v === "" || v === "0") return false;
    if (v === "1") return true;
    throw new HttpError(400, `${name}: must be 0 or 1`);
  };
  const list = (name: QueryName) => (get(name) ?? "").split(",").filter(Boolean);

  const consent = list("consent");
  for (const c of consent)
    if (c !== "personalized" && c !== "measurement")
      throw new HttpError(400, `consent: "${c.slice(0, 32)}" is not one of personalized, measurement`);
  const floorCpm = get("floor_cpm");
  if (floorCpm !== undefined && !/^\d+(\.\d{1,6})?$/.test(floorCpm))
    throw new HttpError(400, `floor_cpm: "${floorCpm.slice(0, 32)}" is not a non-negative decimal`);

  return create(DecideRequestSchema, {
    requestId: get("request_id") || randomUUID(),
    placement: {
      placementId: get("placement") ?? "",
      breakKind: oneOf("break", BREAKS, required("break")),
      maxDurationMs: seconds("max_duration", required("max_duration"), 600),
      maxAds: integer("max_ads", get("max_ads"), 1, 16) ?? 1,
      allowedFormats: list("formats").map((f) => oneOf("formats", FORMATS, f)!),
      // CPM to micros per impression: x 1e6 / 1000.
      floorPriceMicros: floorCpm ? BigInt(Math.round(Number(floorCpm) * 1000)) : 0n,
      forceNow: flag("force_now"),
    },
    user: {
      userId: required("user"),
      consent: { personalizedAds: consent.includes("personalized"), measurement: consent.includes("measurement") },
      geo: { country: (get("country") ?? "").toUpperCase(), region: get("region") ?? "" },
    },
    device: {
      type: oneOf("device", DEVICES, required("device")),
      os: get("os") ?? "",
      screenOn: flag("screen_on"),
      foreground: flag("foreground"),
      appId: get("app") ?? "",
      appVersion: get("app_version") ?? "",
    },
    context: {
      sessionId: get("session") ?? "",
      contentKind: oneOf("content_kind", CONTENT, get("content_kind")) ?? ContentKind.UNSPECIFIED,
      contentId: get("content_id") ?? "",
      genre: get("genre") ?? "",
      moodTags: list("moods"),
      positionMs: seconds("position", get("position"), 86_400) ?? 0,
      contentDurationMs: seconds("content_duration", get("content_duration"), 86_400) ?? 0,
    },
    deadlineMs: integer("deadline_ms", get("deadline_ms"), 0, 10_000) ?? 0,
  });
}
