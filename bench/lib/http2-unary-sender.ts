import http2 from "node:http2";
import type { Send } from "./open-loop.ts";

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
  /** Byte offset and length, inside each message, of a fixed-width ASCII decimal field rewritten per request. */
  uniqueField?: { offset: number; length: number };
  /** HTTP/2 connections to spread the streams over. */
  sessions: number;
  timeoutMs: number;
  /** Sent as `authorization: Bearer <apiKey>`. */
  apiKey?: string;
}

/**
 * Sends unary RPCs over raw node:http2 with pre-encoded messages: gRPC (length-prefixed, status in trailers) or
 * Connect (binary proto, HTTP status). A protocol library would cost the client CPU the system under test needs
 * on a two-core machine; the server side is the real Connect stack either way.
 */
export async function http2UnarySender(target: Http2UnaryTarget): Promise<{ send: Send; close(): void }> {
  const sessions = await Promise.all(Array.from({ length: target.sessions }, () => openSession(target.url)));
  const grpc = target.protocol === "grpc";
  const templates = target.bodies.map((b) => {
    const message = Buffer.from(b, "base64");
    if (!grpc) return message;
    const framed = Buffer.alloc(5 + message.length);
    framed.writeUInt32BE(message.length, 1);
    message.copy(framed, 5);
    return framed;
  });
  const uniqueOffset = target.uniqueField ? target.uniqueField.offset + (grpc ? 5 : 0) : -1;
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

  const send: Send = () =>
    new Promise<void>((resolve, reject) => {
      const n = counter++;
      const template = templates[n % templates.length]!;
      let body = template;
      if (uniqueOffset >= 0) {
        // A fresh copy per request: http2 may still hold the previous buffer when the next request is built.
        body = Buffer.from(template);
        const digits = String(n).padStart(target.uniqueField!.length, "0").slice(-target.uniqueField!.length);
        body.write(digits, uniqueOffset, "latin1");
      }
      const slot = n % sessions.length;
      let session = sessions[slot]!;
      // A session the server closed (GOAWAY under overload, say) fails what it carried, not every later request:
      // the next request on that slot opens a new connection, as a gRPC channel would.
      if (session.closed || session.destroyed) {
        session = reconnect(target.url);
        sessions[slot] = session;
      }
      const stream = session.request(headers);
      let status = 0;
      let grpcStatus: string | undefined;
      deadlines.push({ stream, at: performance.now() + target.timeoutMs });
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        if (h["grpc-status"] !== undefined) grpcStatus = String(h["grpc-status"]);
      });
      stream.on("trailers", (t) => {
        if (t["grpc-status"] !== undefined) grpcStatus = String(t["grpc-status"]);
      });
      stream.resume(); // the body is not needed, only the status
      stream.on("error", (err) => reject(err));
      stream.on("close", () => {
        if (stream.rstCode && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR)
          reject(new Error(stream.rstCode === http2.constants.NGHTTP2_CANCEL ? "timeout" : `reset ${stream.rstCode}`));
        else if (status !== 200) reject(new Error(`http ${status}`));
        else if (grpc && grpcStatus !== "0") reject(new Error(`grpc-status ${grpcStatus ?? "missing"}`));
        else resolve();
      });
      stream.end(body);
    });
  return {
    send,
    close: () => {
      clearInterval(sweeper);
      for (const s of sessions) s.close();
    },
  };
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
