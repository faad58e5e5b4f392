import http2 from "node:http2";
import { countField2 } from "./count-ads.ts";
import { DeadlineSweeper } from "./deadline-sweeper.ts";
import { type Http2UnaryTarget, type Shard, unaryRequestHeaders } from "./http2-unary-target.ts";
import { bodyTemplates, writeCounters } from "./numbered-bodies.ts";
import type { Done, Send } from "./open-loop.ts";

// The soak imports the pool walk from here.
export { pooledValue } from "./numbered-bodies.ts";

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
  const fields = target.fields ?? [];
  const templates = bodyTemplates(target.bodies, fields, grpc);
  const headers = Object.fromEntries(unaryRequestHeaders(target));
  let counter = 0;
  const deadlines = new DeadlineSweeper<http2.ClientHttp2Stream>(target.timeoutMs, {
    closed: (stream) => stream.closed,
    cancel: (stream) => stream.close(http2.constants.NGHTTP2_CANCEL),
  });

  const send: Send = (done: Done) => {
    const local = counter++;
    const n = local * shard.count + shard.index;
    const template = templates[local % templates.length]!;
    // A fresh copy per request: http2 may still hold the previous buffer when the next request is built.
    let body = template.framed;
    if (fields.length > 0) {
      body = Buffer.allocUnsafe(body.length);
      template.framed.copy(body);
      writeCounters(body, 0, template, fields, n);
    }
    const slot = local % sessions.length;
    let session = sessions[slot]!;
    // A session the server closed (GOAWAY under overload, say) fails what it carried, not every later request:
    // the next request on that slot opens a new connection, as a gRPC channel would.
    if (session.closed || session.destroyed) {
      session = reconnect(target.url);
      sessions[slot] = session;
    }
    new UnaryCall(session.request(headers), done, grpc, target.countAds === true, deadlines, body);
  };
  return {
    send,
    close: () => {
      deadlines.stop();
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
    deadlines: DeadlineSweeper<http2.ClientHttp2Stream>,
    body: Buffer,
  ) {
    deadlines.add(stream);
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
