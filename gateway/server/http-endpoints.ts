import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import type { Logger } from "../../lib/log/logger.ts";

/**
 * Plain HTTP endpoints on the gateway's one port, for clients that do not speak Chorus's protobuf: VAST for
 * players, the tracking pixel, OpenRTB for exchanges. They are served before connect-node sees the request (on
 * HTTP/1.1 and on HTTP/2's compatibility layer; the unary fast path only takes POSTs of our RPC paths).
 */
export type HttpRequest = IncomingMessage | Http2ServerRequest;
export type HttpResponse = ServerResponse | Http2ServerResponse;

export interface HttpEndpoint {
  method: "GET" | "POST";
  /** Exact path, or a prefix when it ends with "/". */
  path: string;
  handle(req: HttpRequest, res: HttpResponse, url: URL): Promise<void>;
}

/** A refusal with an HTTP status and a plain-text reason that names the field (or header) at fault. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Answers a request when one of the endpoints owns its path; returns false to let the RPC server have it. */
export function httpEndpointRouter(endpoints: readonly HttpEndpoint[], logger: Logger) {
  return (req: HttpRequest, res: HttpResponse): boolean => {
    const rawPath = req.url ?? "/";
    const endpoint = endpoints.find((e) =>
      e.path.endsWith("/") ? rawPath.startsWith(e.path) : rawPath === e.path || rawPath.startsWith(`${e.path}?`),
    );
    if (!endpoint) return false;
    if (req.method !== endpoint.method && !(endpoint.method === "GET" && req.method === "HEAD")) {
      sendText(res, 405, `${req.method} not allowed: ${endpoint.method} ${endpoint.path}`, { allow: endpoint.method });
      return true;
    }
    let url: URL;
    try {
      url = new URL(rawPath, "http://gateway");
    } catch {
      sendText(res, 400, "malformed request target");
      return true;
    }
    endpoint.handle(req, res, url).catch((err: unknown) => sendError(res, err, logger, endpoint.path));
    return true;
  };
}

/** Sends a status for whatever an endpoint threw: HttpError and ConnectError as they say, anything else 500. */
export function sendError(res: HttpResponse, err: unknown, logger: Logger, path: string): void {
  if (err instanceof HttpError) {
    sendText(res, err.status, err.message, err.headers);
    return;
  }
  if (err instanceof ConnectError) {
    const headers: Record<string, string> = {};
    const retryAfter = err.metadata.get("retry-after");
    if (retryAfter) headers["retry-after"] = retryAfter;
    else if (err.code === Code.Unavailable) headers["retry-after"] = "1";
    if (err.code === Code.Unauthenticated) headers["www-authenticate"] = 'Bearer realm="chorus"';
    sendText(res, codeToHttpStatus(err.code), err.rawMessage, headers);
    return;
  }
  logger.error({ err, path }, "http endpoint failed");
  sendText(res, 500, "internal error");
}

export function sendText(res: HttpResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const body = Buffer.from(`${text}\n`);
  (res as ServerResponse)
    .writeHead(status, {
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(body.byteLength),
      "cache-control": "no-store",
      ...headers,
    })
    .end(body);
}

export function sendBody(
  res: HttpResponse,
  status: number,
  contentType: string,
  body: Buffer | string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  (res as ServerResponse)
    .writeHead(status, {
      "content-type": contentType,
      "content-length": String(bytes.byteLength),
      "cache-control": "no-store",
      ...headers,
    })
    .end(bytes);
}

/** Reads the request body up to `limit` bytes; a larger one is refused with 413 before it is all read. */
export async function readBody(req: HttpRequest, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (declared > limit) throw new HttpError(413, `body: ${declared} bytes is over the limit of ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) throw new HttpError(413, `body: over the limit of ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** An AbortSignal that fires when the client goes away before the answer is sent. */
export function clientGone(req: HttpRequest, res: HttpResponse): AbortSignal {
  const controller = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) controller.abort(new ConnectError("client went away", Code.Canceled));
  });
  void req;
  return controller.signal;
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
