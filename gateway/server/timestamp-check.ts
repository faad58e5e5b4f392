import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";

/** google.protobuf.Timestamp's valid range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z. */
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;
const TIMESTAMP = "google.protobuf.Timestamp";

/** Per schema: does it hold a Timestamp anywhere (most requests, Decide among them, do not: nothing to walk). */
const holdsTimestamp = new WeakMap<DescMessage, boolean>();

function mayHoldTimestamp(schema: DescMessage, seen = new Set<DescMessage>()): boolean {
  const known = holdsTimestamp.get(schema);
  if (known !== undefined) return known;
  if (seen.has(schema)) return false;
  seen.add(schema);
  let found = schema.typeName === TIMESTAMP;
  for (const field of schema.fields) {
    if (found) break;
    const child =
      field.fieldKind === "message" || field.fieldKind === "list" || field.fieldKind === "map"
        ? field.message
        : undefined;
    if (child && mayHoldTimestamp(child, seen)) found = true;
  }
  holdsTimestamp.set(schema, found);
  return found;
}

/**
 * Every Timestamp in `message` outside the type's documented range, as `field.path: reason` (proto field names,
 * as protovalidate names them). Empty when all are valid.
 */
export function malformedTimestamps(schema: DescMessage, message: MessageShape<DescMessage>): string[] {
  if (!mayHoldTimestamp(schema)) return [];
  const out: string[] = [];
  walk(schema, message as unknown as Record<string, unknown>, "", out);
  return out;
}

function walk(schema: DescMessage, message: Record<string, unknown>, path: string, out: string[]): void {
  if (schema.typeName === TIMESTAMP) {
    const ts = message as unknown as Timestamp;
    if (ts.nanos < 0 || ts.nanos > 999_999_999)
      out.push(`${path}.nanos: ${ts.nanos} is not in 0..999999999 [timestamp.valid]`);
    if (ts.seconds < MIN_SECONDS || ts.seconds > MAX_SECONDS)
      out.push(`${path}.seconds: ${ts.seconds} is outside years 1-9999 [timestamp.valid]`);
    return;
  }
  for (const field of schema.fields) {
    const name = path ? `${path}.${field.name}` : field.name;
    let value: unknown;
    if (field.oneof) {
      const oneof = message[field.oneof.localName] as { case?: string; value?: unknown } | undefined;
      if (oneof?.case !== field.localName) continue;
      value = oneof.value;
    } else value = message[field.localName];
    if (value === undefined || value === null) continue;
    if (field.fieldKind === "message" && mayHoldTimestamp(field.message))
      walk(field.message, value as Record<string, unknown>, name, out);
    else if (field.fieldKind === "list" && field.listKind === "message" && mayHoldTimestamp(field.message))
      (value as Record<string, unknown>[]).forEach((item, i) => {
        walk(field.message, item, `${name}[${i}]`, out);
      });
    else if (field.fieldKind === "map" && field.mapKind === "message" && mayHoldTimestamp(field.message))
      for (const [key, item] of Object.entries(value as Record<string, Record<string, unknown>>))
        walk(field.message, item, `${name}[${JSON.stringify(key)}]`, out);
  }
}
