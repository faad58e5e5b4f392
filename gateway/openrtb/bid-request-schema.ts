import { Ajv, type ErrorObject } from "ajv";
import type { BidRequest } from "iab-openrtb/v26";

/**
 * JSON Schema of the OpenRTB 2.6 BidRequest fields Chorus reads (others pass through unread, as the spec wants
 * bidders to ignore what they do not understand). Types and ranges per the spec's object tables (§3.2) and
 * AdCOM 1.0 lists; ajv compiles it once.
 */
const int = (minimum?: number, maximum?: number) => ({ type: "integer", minimum, maximum });
const str = (maxLength = 4096) => ({ type: "string", maxLength });
const currency = { type: "string", pattern: "^[A-Z]{3}$" };
const strings = (maxItems = 1000) => ({ type: "array", maxItems, items: str(256) });
const flag = { enum: [0, 1] };

const mediaPod = {
  type: "object",
  required: ["mimes"],
  properties: {
    mimes: { type: "array", minItems: 1, maxItems: 64, items: str(128) },
    minduration: int(0, 86_400),
    maxduration: int(1, 86_400),
    startdelay: int(-2),
    poddur: int(1, 86_400),
    maxseq: int(0, 1000),
    rqddurs: { type: "array", minItems: 1, maxItems: 64, items: int(1, 86_400) },
    podid: str(128),
    podseq: { enum: [-1, 0, 1] },
    slotinpod: { enum: [-1, 0, 1, 2] },
    mincpmpersec: { type: "number", minimum: 0 },
    protocols: { type: "array", items: int(1) },
    battr: { type: "array", items: int(1) },
    w: int(0),
    h: int(0),
  },
};

const content = {
  type: "object",
  properties: {
    id: str(),
    genre: str(),
    cat: strings(),
    len: int(0),
    context: int(1),
    livestream: flag,
  },
};

const bidRequestSchema = {
  type: "object",
  required: ["id", "imp"],
  properties: {
    id: { type: "string", minLength: 1, maxLength: 256 },
    imp: {
      type: "array",
      minItems: 1,
      maxItems: 64,
      items: {
        type: "object",
        required: ["id"],
        properties: {
          id: { type: "string", minLength: 1, maxLength: 128 },
          tagid: str(),
          bidfloor: { type: "number", minimum: 0 },
          bidfloorcur: currency,
          exp: int(0),
          video: mediaPod,
          audio: mediaPod,
        },
      },
    },
    tmax: int(1),
    at: int(1),
    test: flag,
    cur: { type: "array", maxItems: 32, items: currency },
    bcat: strings(),
    badv: strings(),
    site: { type: "object", properties: { id: str(), domain: str(), content } },
    app: { type: "object", properties: { id: str(), bundle: str(), ver: str(), content } },
    device: {
      type: "object",
      properties: {
        devicetype: int(1, 8),
        os: str(),
        ifa: str(),
        geo: {
          type: "object",
          properties: { country: { type: "string", pattern: "^[A-Z]{3}$" }, region: str(64) },
        },
      },
    },
    user: { type: "object", properties: { id: str(), buyeruid: str(), consent: str(65_536) } },
    regs: {
      type: "object",
      properties: {
        coppa: flag,
        gdpr: flag,
        us_privacy: { type: "string", pattern: "^[0-9][YNyn-]{3}$" },
        gpp: str(65_536),
        gpp_sid: { type: "array", items: int() },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: false });
const validator = ajv.compile<BidRequest>(bidRequestSchema);

export type BidRequestCheck = { ok: true; request: BidRequest } | { ok: false; error: string };

/** Validates a parsed body; the error names the first offending field the way OpenRTB writes paths (imp[0].video). */
export function checkBidRequest(body: unknown): BidRequestCheck {
  if (validator(body)) return { ok: true, request: body };
  return { ok: false, error: describe(validator.errors?.[0]) };
}

function describe(e: ErrorObject | undefined): string {
  if (!e) return "request: invalid";
  let path = e.instancePath
    .split("/")
    .slice(1)
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`))
    .join("")
    .replace(/^\./, "");
  if (e.keyword === "required")
    path = `${path ? `${path}.` : ""}${(e.params as { missingProperty: string }).missingProperty}`;
  const detail =
    e.keyword === "enum"
      ? `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(", ")}`
      : e.message;
  return `${path || "request"}: ${e.keyword === "required" ? "required" : detail}`;
}
