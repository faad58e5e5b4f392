import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { DescMessage, DescMethod, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues } from "@connectrpc/connect";
import type { Logger } from "../../lib/log/logger.ts";
import { connectUnary } from "./connect-unary.ts";
import { grpcUnary } from "./grpc-unary.ts";
import { LazyAbort } from "./lazy-abort.ts";
import { toRpcError } from "./rpc-error.ts";
import type { Call, ServedService, UnaryFn } from "./service-impl.ts";
import type { UnaryProtocol } from "./unary-protocol.ts";

export interface UnaryFastPathOptions {
  /** Largest request message in bytes; larger ones get RESOURCE_EXHAUSTED (connect-node's readMaxBytes). */
  readMaxBytes: number;
  logger: Logger;
  /**
   * The call's context values (the caller's principal) from its `authorization` header and procedure; throws the
   * ConnectError (UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED) that refuses it before the body is read.
   */
  admit(authorization: string | undefined, procedure: string): ContextValues;
}

/** Serves the stream and returns true, or returns false (untouched) for connect-node to serve. */
export type StreamHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => boolean;

interface Route {
  readonly method: DescMethod;
  readonly fn: UnaryFn;
  readonly procedure: string;
}

/**
 * The gateway's lean path for the common case: a unary call over HTTP/2 with gRPC (`application/grpc[+proto]`) or
 * Connect (`application/proto`, `application/json`) and no compression. It works on the raw HTTP/2 stream — no
 * compat request/response objects, no WHATWG Headers, no async iterables — which is most of what connect-node
 * spends per call (see bench/gateway/README.md). Anything else (gRPC-Web, streaming, compression, GET, HTTP/1.1,
 * other content types, unknown paths) returns false and goes to connect-node, which implements the full
 * protocols; handlers and validation are shared, so both paths give the same answers.
 */
export function createUnaryFastPath(services: readonly ServedService[], options: UnaryFastPathOptions): StreamHandler {
  const routes = new Map<string, Route>();
  for (const { service, handlers } of services) {
    const fns = handlers as unknown as Record<string, UnaryFn | undefined>;
    for (const method of service.methods) {
      const fn = fns[method.localName];
      const procedure = `/${service.typeName}/${method.name}`;
      if (method.methodKind === "unary" && fn) routes.set(procedure, { method, fn, procedure });
    }
  }
  return (stream, headers) => {
    if (headers[":method"] !== "POST") return false;
    const route = routes.get(headers[":path"] ?? "");
    if (route === undefined) return false;
    const protocol = selectProtocol(headers);
    if (protocol === undefined) return false;
    serveUnary(route, protocol, stream, headers, options);
    return true;
  };
}

const protocols = {
  grpc: grpcUnary("application/grpc"),
  grpcProto: grpcUnary("application/grpc+proto"),
  connectProto: connectUnary(true),
  connectJson: connectUnary(false),
};

function selectProtocol(headers: IncomingHttpHeaders): UnaryProtocol | undefined {
  switch (headers["content-type"]) {
    case "application/grpc":
    case "application/grpc+proto": {
      const encoding = headers["grpc-encoding"];
      if (encoding !== undefined && encoding !== "identity") return undefined;
      return headers["content-type"] === "application/grpc" ? protocols.grpc : protocols.grpcProto;
    }
    case "application/proto":
    case "application/json": {
      const encoding = headers["content-encoding"];
      if (encoding !== undefined && encoding !== "identity") return undefined;
      const version = headers["connect-protocol-version"];
      if (version !== undefined && version !== "1") return undefined;
      return headers["content-type"] === "application/proto" ? protocols.connectProto : protocols.connectJson;
    }
    default:
      return undefined;
  }
}

function serveUnary(
  route: Route,
  protocol: UnaryProtocol,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  { readMaxBytes, logger, admit }: UnaryFastPathOptions,
): void {
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const cancel = new LazyAbort();
  // A client that resets the stream: the handler's signal tells the engine to stop working for nobody.
  const onClose = () => cancel.abort(new ConnectError("the client closed the stream", Code.Canceled));
  const timeout = protocol.parseTimeout(headers[protocol.timeoutHeader] as string | undefined);

  const finish = (output: MessageShape<DescMessage> | undefined, reason?: unknown) => {
    if (done) return;
    done = true;
    if (timer !== undefined) clearTimeout(timer);
    stream.off("close", onClose);
    if (stream.destroyed || stream.closed || stream.headersSent) return;
    try {
      if (output !== undefined) protocol.respond(stream, route.method.output, output);
      else protocol.fail(stream, toRpcError(reason, logger, route.procedure));
    } catch (err) {
      // Only an unserialisable response can land here; the stream must still get a status.
      if (!stream.headersSent) protocol.fail(stream, toRpcError(err, logger, route.procedure));
    }
  };

  const tooLarge = (size: number) =>
    new ConnectError(
      `message size ${size} is larger than configured readMaxBytes ${readMaxBytes}`,
      Code.ResourceExhausted,
    );

  // An 'error' on a server stream without a listener would crash the process (e.g. a client reset mid-write).
  stream.on("error", (err) => logger.debug({ err, procedure: route.procedure }, "stream error"));
  if (timeout.error) {
    finish(undefined, timeout.error);
    return;
  }
  let values: ContextValues;
  try {
    values = admit(headers.authorization, route.procedure);
  } catch (err) {
    finish(undefined, err);
    return;
  }
  const overhead = protocol.envelope ? 5 : 0;
  const declared = Number(headers["content-length"]);
  if (declared > readMaxBytes + overhead) {
    finish(undefined, tooLarge(declared - overhead));
    return;
  }

  const chunks: Buffer[] = [];
  let size = 0;
  let lengthChecked = !protocol.envelope;
  stream.on("data", (chunk: Buffer) => {
    if (done) return;
    chunks.push(chunk);
    size += chunk.byteLength;
    if (!lengthChecked && size >= 5) {
      lengthChecked = true;
      const length = protocol.messageLength(chunks.length === 1 ? chunk : Buffer.concat(chunks, size));
      if (length !== undefined && length > readMaxBytes) finish(undefined, tooLarge(length));
    }
    if (size > readMaxBytes + overhead) finish(undefined, tooLarge(size - overhead));
  });
  stream.on("end", () => {
    if (done) return;
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    stream.on("close", onClose);
    if (timeout.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        cancel.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
        // The deadline answers the client now, whether or not the handler honours its signal.
        finish(undefined, cancel.reason);
      }, timeout.timeoutMs);
    }
    const call: Call = {
      values,
      cancellation: cancel,
      get signal() {
        return cancel.signal;
      },
    };
    try {
      // parse and validation throw synchronously; the handler rejects.
      route.fn(protocol.parse(route.method.input, body), call).then(finish, (err: unknown) => finish(undefined, err));
    } catch (err) {
      finish(undefined, err);
    }
  });
}
