import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";

/** NATS's default max_payload (1 MiB); a connection reports the server's own in `nc.info.max_payload`. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** Room left in a message for headers and protocol framing. */
const HEADROOM = 16 * 1024;

/** The largest piece to send on a connection: the server's max payload less room for headers. */
export function pieceLimit(maxPayload: number | undefined): number {
  return Math.max(4 * 1024, (maxPayload ?? DEFAULT_MAX_PAYLOAD) - HEADROOM);
}

/**
 * Encodes `message` as one or more protobuf messages of the same type, each at most `limit` bytes: the largest
 * repeated field is spread over the pieces and every other field is copied into each. Decoding every piece and
 * merging them entry by entry (how agent signals and snapshots are restored: upserts) gives back the whole, so a
 * state of any size travels and is stored under NATS's max payload. A single entry larger than `limit` cannot be
 * split and throws.
 */
export function encodePieces<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
  limit: number,
): Uint8Array[] {
  const whole = toBinary(schema, message);
  if (whole.length <= limit) return [whole];
  const record = message as unknown as Record<string, unknown>;
  let field: string | undefined;
  let longest = 1;
  for (const f of schema.fields) {
    const value = record[f.localName];
    if (f.fieldKind === "list" && Array.isArray(value) && value.length > longest) {
      field = f.localName;
      longest = value.length;
    }
  }
  if (field === undefined)
    throw new Error(`${schema.typeName} of ${whole.length} bytes has no repeated field to split under ${limit} bytes`);
  const list = record[field] as unknown[];
  const parts = Math.min(list.length, Math.ceil((whole.length * 1.1) / limit) + 1);
  const per = Math.ceil(list.length / parts);
  const out: Uint8Array[] = [];
  for (let at = 0; at < list.length; at += per) {
    const piece = { ...record, [field]: list.slice(at, at + per) } as unknown as MessageShape<Desc>;
    out.push(...encodePieces(schema, piece, limit));
  }
  return out;
}
