import { setMaxListeners } from "node:events";
import { createServer as createHttp1Server, type Server as Http1Server } from "node:http";
import {
  createServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import type { Server, Socket } from "node:net";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { CampaignService } from "../gen/chorus/v1/campaign_pb.ts";
import { DecisionService } from "../gen/chorus/v1/decision_pb.ts";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import type { CatalogStore } from "../lib/catalog/catalog-store.ts";
import type { Logger } from "../lib/log/logger.ts";
import type { Pseudonyms } from "../lib/privacy/pseudonyms.ts";
import { gatewayConfig } from "./gateway-config.ts";
import type { DecisionEngine, EventSink, PlaybackSink } from "./ports.ts";
import { useBufferTextEncoding } from "./server/buffer-text-encoding.ts";
import { HealthStatus, healthHandlers } from "./server/health-service.ts";
import { createDemuxServer } from "./server/protocol-demux.ts";
import { DescriptorIndex, reflectionServices, reflectionV1, reflectionV1alpha } from "./server/reflection-service.ts";
import { createRequestValidator } from "./server/request-validator.ts";
import { toRpcError } from "./server/rpc-error.ts";
import { type ServedService, validatedService } from "./server/service-impl.ts";
import { createUnaryFastPath, type StreamHandler } from "./server/unary-fast-path.ts";
import { unknownMethod } from "./server/unknown-method.ts";
import { campaignHandlers } from "./services/campaign-service.ts";
import { decisionHandlers } from "./services/decision-service.ts";

export interface GatewayLimits {
  /** Largest request message in bytes; larger ones get RESOURCE_EXHAUSTED. Default 1 MiB (GATEWAY_MAX_MESSAGE_BYTES). */
  maxMessageBytes: number;
  /** How long close() waits for in-flight calls before cutting connections. Default 10 s (GATEWAY_DRAIN_TIMEOUT_MS). */
  drainTimeoutMs: number;
}

export interface GatewayOptions {
  /** Default 127.0.0.1 (GATEWAY_HOST). */
  host?: string;
  /** Default 8080 (GATEWAY_PORT); 0 picks a free port. */
  port?: number;
  engine: DecisionEngine;
  events: EventSink;
  playback: PlaybackSink;
  catalog: CatalogStore;
  /** Listener ids become these at the edge: nothing behind the gateway sees a raw user or session id. */
  pseudonyms: Pseudonyms;
  logger: Logger;
  limits?: Partial<GatewayLimits>;
  /**
   * Serve unary gRPC and Connect calls through the lean fast path (default true). Off, connect-node serves
   * everything: for benchmarks and for ruling the fast path out when chasing a protocol bug.
   */
  fastPath?: boolean;
}

export interface Gateway {
  readonly port: number;
  /** http://host:port */
  readonly url: string;
  /** grpc.health.v1 status: `health.set("NOT_SERVING")` when draining, per service or for all. */
  readonly health: HealthStatus;
  /** Stops accepting, lets in-flight calls finish (up to drainTimeoutMs), then closes every connection. */
  close(): Promise<void>;
}

/**
 * Serves chorus.v1.DecisionService and CampaignService over Connect, gRPC and gRPC-Web on one port (HTTP/2
 * cleartext with prior knowledge, and HTTP/1.1 for Connect and gRPC-Web), plus grpc.health.v1 and gRPC server
 * reflection (v1 and v1alpha).
 *
 * Routing per HTTP/2 stream: unary calls of our services over gRPC or Connect without compression take the lean
 * fast path (server/unary-fast-path.ts); everything else — gRPC-Web, streaming, compression, health, reflection,
 * HTTP/1.1 — goes to connect-node. Why two paths: see bench/gateway/README.md (connect-node costs several times
 * more CPU per call than the fast path).
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const limits: GatewayLimits = {
    maxMessageBytes: options.limits?.maxMessageBytes ?? gatewayConfig.maxMessageBytes.default,
    drainTimeoutMs: options.limits?.drainTimeoutMs ?? gatewayConfig.drainTimeoutMs.default,
  };
  const logger = options.logger.child({ component: "gateway" });
  useBufferTextEncoding();
  const validate = createRequestValidator();
  const served: ServedService[] = [
    validatedService(DecisionService, decisionHandlers(options), validate) as unknown as ServedService,
    validatedService(CampaignService, campaignHandlers(options.catalog), validate) as unknown as ServedService,
  ];
  const health = new HealthStatus([...served.map((s) => s.service.typeName), Health.typeName]);
  const reflection = new DescriptorIndex([...served.map((s) => s.service), Health, ...reflectionServices]);

  const shutdown = new AbortController();
  // connect-node links every call's signal to this one: many concurrent calls are normal, not a leak.
  setMaxListeners(0, shutdown.signal);
  const logUnexpected: Interceptor = (next) => async (request) => {
    try {
      return await next(request);
    } catch (err) {
      throw toRpcError(err, logger, request.url);
    }
  };
  const routes = (router: ConnectRouter) => {
    for (const { service, handlers } of served) router.service(service, handlers as never);
    router.service(Health, healthHandlers(health));
    router.service(reflectionServices[0], reflectionV1(reflection));
    router.service(reflectionServices[1], reflectionV1alpha(reflection));
  };
  const connectHandler = connectNodeAdapter({
    routes,
    readMaxBytes: limits.maxMessageBytes,
    shutdownSignal: shutdown.signal,
    interceptors: [logUnexpected],
    fallback: unknownMethod,
  });
  const fastPath: StreamHandler =
    options.fastPath === false
      ? () => false
      : createUnaryFastPath(served, { readMaxBytes: limits.maxMessageBytes, logger });

  const h2 = createServer({}, connectHandler);
  const h1 = createHttp1Server(connectHandler);
  const server = createDemuxServer(h2, h1);
  const tracker = trackConnections(server, h2, h1, fastPath);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? gatewayConfig.port.default, options.host ?? gatewayConfig.host.default, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => logger.error({ err }, "server error"));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const host = options.host ?? gatewayConfig.host.default;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  logger.info({ url }, "gateway listening");

  let closing: Promise<void> | undefined;
  return {
    port,
    url,
    health,
    close() {
      closing ??= (async () => {
        health.set("NOT_SERVING");
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await tracker.drain(limits.drainTimeoutMs);
        shutdown.abort();
        tracker.destroyAll();
        await closed;
        logger.info("gateway closed");
      })();
      return closing;
    },
  };
}

/**
 * Puts the fast path in front of node's HTTP/2 compatibility layer and counts in-flight calls for a graceful close.
 *
 * Node registers its compat 'stream' listener (which builds request/response objects and emits 'request') when
 * the first 'request' listener is added. We take that listener out and call it only for streams the fast path
 * declines, so a fast-path call never pays for the compat objects. HTTP/1.1 requests go to connect-node directly.
 */
function trackConnections(server: Server, h2: Http2Server, h1: Http1Server, fastPath: StreamHandler) {
  const compat = h2.listeners("stream") as ((...args: unknown[]) => void)[];
  if (compat.length !== 1) throw new Error(`expected node's HTTP/2 compat stream listener, found ${compat.length}`);
  h2.removeAllListeners("stream");
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let idle: (() => void) | undefined;
  const ended = () => {
    inFlight--;
    if (inFlight === 0) idle?.();
  };
  h2.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
    inFlight++;
    stream.on("close", ended);
    if (!fastPath(stream, headers)) compat[0]!.call(h2, stream, headers, flags, rawHeaders);
  });
  h1.on("request", (_req, res) => {
    inFlight++;
    res.on("close", ended);
  });
  h2.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  return {
    /** GOAWAY to every HTTP/2 client, then waits until no call is in flight or the timeout passes. */
    async drain(timeoutMs: number): Promise<void> {
      for (const session of sessions) session.close();
      if (inFlight === 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
    destroyAll(): void {
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}
