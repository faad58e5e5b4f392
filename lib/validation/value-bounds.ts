import type { DescField, DescMessage, MessageShape } from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";

/**
 * Range checks by walking a message's schema, for values every Chorus process turns into numbers and dates:
 *
 * - `malformedTimestamps`: a Timestamp outside the type's documented range (years 1-9999, nanos 0..1e9-1). The
 *   gateway refuses those before protovalidate, which compares them without complaint.
 * - `outOfRangeValues`: what a consumer on the bus must not fold into its state: any malformed Timestamp or one
 *   outside 2000-2100, any 64-bit integer beyond +-2^53 (agents and the ledger turn them into JS numbers and back:
 *   a 2^63 ms timestamp made every later snapshot fail with "invalid int64"), any NaN or infinite float.
 *
 * Violations are `field.path: reason`, proto field names as protovalidate writes them. Schemas without any
 * checked field are recognised once and cost nothing after that.
 */

/** google.protobuf.Timestamp's valid range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z. */
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;
/** What the bus accepts: 2000-01-01 to 2100-01-01. */
const BUS_MIN_SECONDS = 946_684_800n;
const BUS_MAX_SECONDS = 4_102_444_800n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const TIMESTAMP = "google.protobuf.Timestamp";

type Mode = "timestamps" | "bus";

const INT64 = new Set([
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);
const FLOAT = new Set([ScalarType.DOUBLE, ScalarType.FLOAT]);

function checksScalar(field: DescField, mode: Mode): boolean {
  if (mode !== "bus") return false;
  const scalar =
    field.fieldKind === "scalar"
      ? field.scalar
      : field.fieldKind === "list" && field.listKind === "scalar"
        ? field.scalar
        : undefined;
  return scalar !== undefined && (INT64.has(scalar) || FLOAT.has(scalar));
}

const relevant: Record<Mode, WeakMap<DescMessage, boolean>> = { timestamps: new WeakMap(), bus: new WeakMap() };

function isRelevant(schema: DescMessage, mode: Mode, within?: Set<DescMessage>): boolean {
  const known = relevant[mode].get(schema);
  if (known !== undefined) return known;
  const seen = within ?? new Set<DescMessage>();
  if (seen.has(schema)) return false;
  seen.add(schema);
  let found = schema.typeName === TIMESTAMP;
  for (const field of schema.fields) {
    if (found) break;
    if (checksScalar(field, mode)) found = true;
    const child =
      field.fieldKind === "message" ||
      (field.fieldKind === "list" && field.listKind === "message") ||
      (field.fieldKind === "map" && field.mapKind === "message")
        ? field.message
        : undefined;
    if (child && isRelevant(child, mode, seen)) found = true;
  }
  // Only a definite answer is cached: inside a recursion a "false" may still turn true higher up; at the top
  // the whole tree has been seen (this was walking DecideRequest's tree on every request).
  if (found || within === undefined) relevant[mode].set(schema, found);
  return found;
}

/** Every Timestamp in `message` outside the type's documented range. Empty when all are valid. */
export function malformedTimestamps(schema: DescMessage, message: MessageShape<DescMessage>): string[] {
  return violations(schema, message, "timestamps");
}

/** Every value in `message` a bus consumer must not take (see above). Empty when there is none. */
export function outOfRangeValues(schema: DescMessage, message: unknown): string[] {
  return violations(schema, message as MessageShape<DescMessage>, "bus");
}

/** A field path, built into a string only for a violation (messages on hot subjects are walked whole). */
interface Path {
  readonly parent: Path | undefined;
  readonly name: string;
  /** An element of a repeated field or map. */
  readonly index?: number | string;
}
const pathString = (p: Path | undefined): string => {
  if (!p) return "";
  const own =
    p.index === undefined ? p.name : `${p.name}[${typeof p.index === "string" ? JSON.stringify(p.index) : p.index}]`;
  return p.parent ? `${pathString(p.parent)}.${own}` : own;
};
const at = (p: Path, index: number | string): Path => ({ parent: p.parent, name: p.name, index });

/** Per schema and mode: the fields worth looking at (scalars checked, messages holding some). */
const plans: Record<Mode, WeakMap<DescMessage, DescField[]>> = { timestamps: new WeakMap(), bus: new WeakMap() };

function planOf(schema: DescMessage, mode: Mode): DescField[] {
  let plan = plans[mode].get(schema);
  if (!plan) {
    plan = schema.fields.filter(
      (field) =>
        checksScalar(field, mode) ||
        ((field.fieldKind === "message" ||
          (field.fieldKind === "list" && field.listKind === "message") ||
          (field.fieldKind === "map" && field.mapKind === "message")) &&
          isRelevant(field.message, mode)),
    );
    plans[mode].set(schema, plan);
  }
  return plan;
}

function violations(schema: DescMessage, message: MessageShape<DescMessage>, mode: Mode): string[] {
  if (!isRelevant(schema, mode)) return [];
  const out: string[] = [];
  walk(schema, message as unknown as Record<string, unknown>, undefined, mode, out);
  return out;
}

function checkTimestamp(ts: Timestamp, path: Path | undefined, mode: Mode, out: string[]): void {
  if (!(ts.nanos >= 0 && ts.nanos <= 999_999_999))
    out.push(`${pathString(path)}.nanos: ${ts.nanos} is not in 0..999999999 [timestamp.valid]`);
  if (ts.seconds < MIN_SECONDS || ts.seconds > MAX_SECONDS)
    out.push(`${pathString(path)}.seconds: ${ts.seconds} is outside years 1-9999 [timestamp.valid]`);
  else if (mode === "bus" && (ts.seconds < BUS_MIN_SECONDS || ts.seconds >= BUS_MAX_SECONDS))
    out.push(`${pathString(path)}.seconds: ${ts.seconds} is outside years 2000-2099 [timestamp.range]`);
}

function checkScalar(value: unknown, path: Path, out: string[], index?: number): void {
  if (typeof value === "bigint") {
    if (value > MAX_SAFE || value < -MAX_SAFE)
      out.push(`${pathString(index === undefined ? path : at(path, index))}: ${value} is beyond +-2^53 [int64.range]`);
  } else if (typeof value === "number" && !Number.isFinite(value))
    out.push(`${pathString(index === undefined ? path : at(path, index))}: ${value} is not finite`);
}

function walk(
  schema: DescMessage,
  message: Record<string, unknown>,
  path: Path | undefined,
  mode: Mode,
  out: string[],
): void {
  if (schema.typeName === TIMESTAMP) {
    checkTimestamp(message as unknown as Timestamp, path, mode, out);
    return;
  }
  for (const field of planOf(schema, mode)) {
    let value: unknown;
    if (field.oneof) {
      const oneof = message[field.oneof.localName] as { case?: string; value?: unknown } | undefined;
      if (oneof?.case !== field.localName) continue;
      value = oneof.value;
    } else value = message[field.localName];
    if (value === undefined || value === null) continue;
    const name: Path = { parent: path, name: field.name };
    if (field.fieldKind === "scalar") checkScalar(value, name, out);
    else if (field.fieldKind === "list" && field.listKind === "scalar") {
      const list = value as unknown[];
      for (let i = 0; i < list.length; i++) checkScalar(list[i], name, out, i);
    } else if (field.fieldKind === "message") walk(field.message, value as Record<string, unknown>, name, mode, out);
    else if (field.fieldKind === "list" && field.listKind === "message") {
      const list = value as Record<string, unknown>[];
      for (let i = 0; i < list.length; i++) walk(field.message, list[i]!, at(name, i), mode, out);
    } else if (field.fieldKind === "map" && field.mapKind === "message")
      for (const [key, item] of Object.entries(value as Record<string, Record<string, unknown>>))
        walk(field.message, item, at(name, key), mode, out);
  }
}
