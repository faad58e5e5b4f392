/**
 * An ASCII decimal field rewritten in every request: the digits that follow `marker` in each body. Without `pool`
 * it counts requests (unique ids); with `pool` it walks a pool of that many values so that consecutive requests
 * differ and each value comes back only once every `pool` requests (users whose caps never fill during a run).
 */
export interface CounterField {
  marker: string;
  digits: number;
  pool?: number;
}

/** A pre-built request body, framed for its protocol, and where each counter field's digits start in it. */
export interface BodyTemplate {
  framed: Buffer;
  offsets: number[];
}

/** A multiplier coprime with every power of ten: n -> n * K mod 10^d visits all values before repeating. */
const SPREAD = 7_654_321;

/**
 * The n-th value of a pool of `pool` values (a power of ten): consecutive n differ and each value comes back only
 * once every `pool` requests.
 */
export function pooledValue(n: number, pool: number): number {
  return ((n % pool) * SPREAD) % pool;
}

/** Serialized messages (base64) framed once: gRPC's 5-byte length prefix, or none for Connect's unary protocol. */
export function bodyTemplates(
  bodies: readonly string[],
  fields: readonly CounterField[],
  grpc: boolean,
): BodyTemplate[] {
  const prefix = grpc ? 5 : 0;
  return bodies.map((b) => {
    const message = Buffer.from(b, "base64");
    const framed = Buffer.alloc(prefix + message.length);
    if (grpc) framed.writeUInt32BE(message.length, 1);
    message.copy(framed, prefix);
    const offsets = fields.map((f) => {
      const at = framed.indexOf(f.marker, prefix, "latin1");
      if (at < 0) throw new Error(`marker "${f.marker}" not found in a request body`);
      return at + f.marker.length;
    });
    return { framed, offsets };
  });
}

/** Writes request number `n`'s counter fields into a copy of `template` that starts at `at` in `out`. */
export function writeCounters(
  out: Buffer,
  at: number,
  template: BodyTemplate,
  fields: readonly CounterField[],
  n: number,
): void {
  for (let f = 0; f < fields.length; f++) {
    const { digits, pool } = fields[f]!;
    writeDigits(out, at + template.offsets[f]!, digits, pool ? pooledValue(n, pool) : n);
  }
}

/** Writes `value` as exactly `digits` ASCII decimal digits (the low ones), without building a string. */
export function writeDigits(buffer: Buffer, offset: number, digits: number, value: number): void {
  let v = value;
  for (let i = offset + digits - 1; i >= offset; i--) {
    buffer[i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
}
