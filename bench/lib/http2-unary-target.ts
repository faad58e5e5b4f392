import type { CounterField } from "./numbered-bodies.ts";

/** What an HTTP/2 unary target needs: every request body is built up front so the client spends almost nothing. */
export interface Http2UnaryTarget {
  kind: "http2-unary";
  /**
   * Which client sends: `raw-http2` (the default: HTTP/2 framed by hand on a socket, raw-http2-sender.ts) or
   * `node-http2` (node:http2's client, http2-unary-sender.ts: about twice the CPU per request).
   */
  client?: "raw-http2" | "node-http2";
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
  /**
   * Send the parent the message of every answer with ads (raw-http2 only): a soak reports their events from its
   * own process while the Decide load comes from the load client.
   */
  returnSold?: boolean;
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

/** The headers of every request to a target (pseudo-headers but :scheme and :authority, which each client adds). */
export function unaryRequestHeaders(target: Http2UnaryTarget): [string, string][] {
  const headers: [string, string][] = [
    [":method", "POST"],
    [":path", target.path],
  ];
  if (target.protocol === "grpc") headers.push(["content-type", "application/grpc+proto"], ["te", "trailers"]);
  else headers.push(["content-type", "application/proto"], ["connect-protocol-version", "1"]);
  if (target.apiKey) headers.push(["authorization", `Bearer ${target.apiKey}`]);
  return headers;
}
