import http2 from "node:http2";
import type { Done, Send } from "./open-loop.ts";

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

/** What an HTTP/2 unary target needs: every request body is built up front so the client spends almost nothing. */
export interface Http2UnaryTarget {
  kind: "http2-unary";
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  /** e.g. /chorus.v1.DecisionService/Decide */
  path: string;
  protocol: "grpc" | "connect";
  /** Serialized protobuf request messages, base64; sent round-robin. */
  bodies: string[];
  /** Fields rewritten per request (request id, user id). */
  fields?: CounterField[];
  /** Count the ads of each response (field 2 of a DecideResponse): the sold share. Off for echo targets. */
  countAds?: boolean;
  /** HTTP/2 connections to spread the streams over. */
  sessions: number;
  timeoutMs: number;
  /** Sent as `authorization: Bearer <apiKey>`. */
  apiKey?: string;
}

/** Where this process's requests sit in the numbering when several processes share one target. */
export interface Shard {
  index: number;
  count: number;
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

/**
 * Sends unary RPCs over raw node:http2 with pre-encoded messages: gRPC (length-prefixed, status in trailers) or
 * Connect (binary proto, HTTP status). A protocol library would cost the client CPU the system under test needs
 * on a two-core machine; the server side is the real Connect stack either way.
 */
export async function http2UnarySender(
  target: Http2UnaryTarget,
  shard: Shard = { index: 0, count: 1 },
): Promise<{ send: Send; close(): void }> {
  const sessions = await Promise.all(Array.from({ length: target.sessions }, () => openSession(target.url)));
  const grpc = target.protocol === "grpc";
  const prefix = grpc ? 5 : 0;
  const fields = target.fields ?? [];
  const templates = target.bodies.map((b) => {
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
  const auth = target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {};
  const headers = grpc
    ? { ":method": "POST", ":path": target.path, "content-type": "application/grpc+proto", te: "trailers", ...auth }
    : {
        ":method": "POST",
        ":path": target.path,
        "content-type": "application/proto",
        "connect-protocol-version": "1",
        ...auth,
      };
  let counter = 0;
  // Every request has the same timeout, so in-flight streams expire in send order: one FIFO swept every 50 ms
  // costs far less than a timer per stream.
  const deadlines: { stream: http2.ClientHttp2Stream; at: number }[] = [];
  let head = 0;
  const sweeper = setInterval(() => {
    const now = performance.now();
    while (head < deadlines.length) {
      const { stream, at } = deadlines[head]!;
      if (!stream.closed && at > now) break;
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      head++;
    }
    if (head > 4096) {
      deadlines.splice(0, head);
      head = 0;
    }
  }, 50);

  const send: Send = (done: Done) => {
    const local = counter++;
    const n = local * shard.count + shard.index;
    const { framed, offsets } = templates[local % templates.length]!;
    // A fresh copy per request: http2 may still hold the previous buffer when the next request is built.
    let body = framed;
    if (fields.length > 0) {
      body = Buffer.allocUnsafe(framed.length);
      framed.copy(body);
      for (let f = 0; f < fields.length; f++) {
        const { digits, pool } = fields[f]!;
        writeDigits(body, offsets[f]!, digits, pool ? pooledValue(n, pool) : n);
      }
    }
    const slot = local % sessions.length;
    let session = sessions[slot]!;
    // A session the server closed (GOAWAY under overload, say) fails what it carried, not every later request:
    // the next request on that slot opens a new connection, as a gRPC channel would.
    if (session.closed || session.destroyed) {
      session = reconnect(target.url);
      sessions[slot] = session;
    }
    new UnaryCall(session.request(headers), done, grpc, target.countAds === true, deadlines, target.timeoutMs, body);
  };
  return {
    send,
    close: () => {
      clearInterval(sweeper);
      for (const s of sessions) s.close();
    },
  };
}

/** One request's state, with its listeners as methods bound once (cheaper than a closure per event). */
class UnaryCall {
  private status = 0;
  private grpcStatus: string | undefined;
  private chunks: Buffer[] | undefined;
  private error: string | undefined;

  constructor(
    private readonly stream: http2.ClientHttp2Stream,
    private readonly done: Done,
    private readonly grpc: boolean,
    countAds: boolean,
    deadlines: { stream: http2.ClientHttp2Stream; at: number }[],
    timeoutMs: number,
    body: Buffer,
  ) {
    deadlines.push({ stream, at: performance.now() + timeoutMs });
    stream.on("response", this.onResponse.bind(this));
    if (grpc) stream.on("trailers", this.onTrailers.bind(this));
    if (countAds) {
      this.chunks = [];
      stream.on("data", this.onData.bind(this));
    } else stream.resume(); // the body is not needed, only the status
    stream.on("error", this.onError.bind(this));
    stream.on("close", this.onClose.bind(this));
    stream.end(body);
  }

  private onResponse(h: http2.IncomingHttpHeaders): void {
    this.status = Number(h[":status"]);
    if (h["grpc-status"] !== undefined) this.grpcStatus = String(h["grpc-status"]);
  }

  private onTrailers(t: http2.IncomingHttpHeaders): void {
    if (t["grpc-status"] !== undefined) this.grpcStatus = String(t["grpc-status"]);
  }

  private onData(chunk: Buffer): void {
    this.chunks!.push(chunk);
  }

  private onError(err: Error): void {
    this.error ??= err.message;
  }

  private onClose(): void {
    const { stream } = this;
    let error = this.error;
    if (stream.rstCode && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR)
      error = stream.rstCode === http2.constants.NGHTTP2_CANCEL ? "timeout" : `reset ${stream.rstCode}`;
    else if (error === undefined && this.status !== 200) error = `http ${this.status}`;
    else if (error === undefined && this.grpc && this.grpcStatus !== "0")
      error = `grpc-status ${this.grpcStatus ?? "missing"}`;
    const chunks = this.chunks;
    if (error !== undefined) this.done(error, 0);
    else if (!chunks) this.done(undefined, -1);
    else this.done(undefined, countField2(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), this.grpc ? 5 : 0));
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

/**
 * How many field-2 entries (DecideResponse.ads) a message has, walking only its top-level fields; -1 when the
 * bytes are not a well-formed message.
 */
export function countField2(bytes: Uint8Array, start: number): number {
  let pos = start;
  let count = 0;
  const varint = () => {
    let value = 0;
    let shift = 1;
    for (;;) {
      if (pos >= bytes.length) return -1;
      const b = bytes[pos++]!;
      value += (b & 0x7f) * shift;
      if (b < 0x80) return value;
      shift *= 128;
    }
  };
  while (pos < bytes.length) {
    const tag = varint();
    if (tag < 0) return -1;
    switch (tag & 7) {
      case 0:
        if (varint() < 0) return -1;
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const length = varint();
        if (length < 0) return -1;
        pos += length;
        if (tag >>> 3 === 2) count++;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        return -1;
    }
  }
  return pos === bytes.length ? count : -1;
}

/** A new session, usable at once (requests queue until it connects). */
function reconnect(url: string): http2.ClientHttp2Session {
  const session = http2.connect(url, SESSION_OPTIONS);
  session.on("error", () => {});
  return session;
}

const SESSION_OPTIONS = { settings: { enablePush: false, initialWindowSize: 1 << 20 } };

function openSession(url: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, SESSION_OPTIONS);
    session.once("connect", () => resolve(session));
    session.once("error", reject);
    // A session error after connect surfaces on each stream; keep the process alive.
    session.on("error", () => {});
  });
}
