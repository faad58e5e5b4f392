import { setMaxListeners } from "node:events";
import { createServer as createHttp1Server, type Server as Http1Server } from "node:http";
import {
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import type { Server, Socket } from "node:net";
import { type ConnectRouter, createContextValues, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ApiKeyService } from "../gen/chorus/v1/api_key_pb.ts";
import { CampaignService } from "../gen/chorus/v1/campaign_pb.ts";
import { DecisionService } from "../gen/chorus/v1/decision_pb.ts";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import type { EventSink } from "../ledger/ports.ts";
import type { CatalogStore } from "../lib/catalog/catalog-store.ts";
import type { Logger } from "../lib/log/logger.ts";
import type { Pseudonyms } from "../lib/privacy/pseudonyms.ts";
import type { ChorusMetrics } from "../telemetry/metrics.ts";
import { type ApiKeyAuth, principalKey } from "./auth/api-key-auth.ts";
import type { ApiKeyAdmin, ApiKeyDirectory } from "./auth/api-key-store.ts";
import type { EventTokens } from "./auth/event-token.ts";
import { gatewayConfig } from "./gateway-config.ts";
import { auctionEndpoint } from "./openrtb/auction-endpoint.ts";
import { useBufferTextEncoding } from "./server/buffer-text-encoding.ts";
import { HealthStatus, healthHandlers } from "./server/health-service.ts";
import { type HttpResponse, httpEndpointRouter } from "./server/http-endpoints.ts";
import type { DecisionEngine, PlaybackSink } from "./server/ports.ts";
import { createDemuxServer } from "./server/protocol-demux.ts";
import { DescriptorIndex, reflectionServices, reflectionV1, reflectionV1alpha } from "./server/reflection-service.ts";
import { createRequestValidator } from "./server/request-validator.ts";
import { boundedService, DEFAULT_RPC_BOUNDS, type RpcBounds } from "./server/rpc-bounds.ts";
import { toRpcError } from "./server/rpc-error.ts";
import { type ServedService, validatedService } from "./server/service-impl.ts";
import { createUnaryFastPath, type StreamHandler } from "./server/unary-fast-path.ts";
import { unknownMethod } from "./server/unknown-method.ts";
import { apiKeyHandlers } from "./services/api-key-service.ts";
import { campaignHandlers } from "./services/campaign-service.ts";
import { decisionHandlers, reportWithTokens } from "./services/decision-service.ts";
import { httpDecisions } from "./services/http-decisions.ts";
import { IdempotentDecisions } from "./services/idempotent-decisions.ts";
import { trackingEndpoint } from "./tracking/tracking-endpoint.ts";
import { type MacroStyle, TrackingUrls } from "./tracking/tracking-urls.ts";
import { type CreativeLookup, guessMimeType, type VastOptions } from "./vast/vast-document.ts";
import { vastEndpoint } from "./vast/vast-endpoint.ts";

export interface GatewayLimits {
  /** Largest request message in bytes; larger ones get RESOURCE_EXHAUSTED. Default 1 MiB (GATEWAY_MAX_MESSAGE_BYTES). */
  maxMessageBytes: number;
  /** How long close() waits for in-flight calls before cutting connections. Default 10 s (GATEWAY_DRAIN_TIMEOUT_MS). */
  drainTimeoutMs: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection (GATEWAY_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE, and HTTP/1.1's largest header block (GATEWAY_MAX_HEADER_LIST_BYTES). */
  maxHeaderListBytes: number;
  /** A connection with no activity for this long is closed (GOAWAY for HTTP/2) (GATEWAY_IDLE_TIMEOUT_MS). */
  idleTimeoutMs: number;
  /** Connections beyond this are refused (GATEWAY_MAX_CONNECTIONS). */
  maxConnections: number;
  /** RST_STREAM frames per second per connection, after a burst of 10x this (GATEWAY_STREAM_RESETS_PER_SECOND). */
  streamResetsPerSecond: number;
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
  /** Every call but health (and reflection, unless configured) needs an API key: gateway/auth. */
  auth: ApiKeyAuth;
  /** The key bucket: the directory every gateway watches, and its write side for the admin ApiKeyService. */
  apiKeys: { directory: ApiKeyDirectory; admin: ApiKeyAdmin };
  /** Signs each ad's event token and checks the tokens of reported events. */
  eventTokens: EventTokens;
  idempotency?: IdempotentDecisions;
  /** Creative URLs may be http as well as https (development setting; default false). */
  allowHttpCreativeUrls?: boolean;
  /** PEM certificate chain and key: HTTPS with ALPN h2 and http/1.1 on the one port, every protocol. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  limits?: Partial<GatewayLimits>;
  /** Server-side deadlines and client-stream bounds (server/rpc-bounds.ts; defaults DEFAULT_RPC_BOUNDS). */
  rpcBounds?: Partial<RpcBounds>;
  /**
   * Serve unary gRPC and Connect calls through the lean fast path (default true). Off, connect-node serves
   * everything: for benchmarks and for ruling the fast path out when chasing a protocol bug.
   */
  fastPath?: boolean;
  /** Base URL of tracking links (GATEWAY_PUBLIC_URL: a CDN or another domain); default the gateway's own URL. */
  publicUrl?: string;
  /** How tracking URLs write VAST macros (VAST_MACROS; default encoded, see tracking/tracking-urls.ts). */
  macroStyle?: MacroStyle;
  /** ISO 4217 account currency (CHORUS_CURRENCY, default USD): VAST <Pricing>, OpenRTB prices. */
  currency?: string;
  /** OpenRTB: units of other currencies per unit of the account currency (OPENRTB_FX_RATES). */
  fxRates?: Record<string, number>;
  /** Catalog details of creatives (MIME type, size, names) for VAST; guessed from the media URL without it. */
  creatives?: CreativeLookup;
  /** Counters of the HTTP endpoints (tracking hits, VAST errors, OpenRTB requests). */
  metrics?: Pick<ChorusMetrics, "trackingHits" | "vastErrors" | "openrtbRequests">;
}

export interface Gateway {
  readonly port: number;
  /** http://host:port, or https:// with TLS */
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
    maxConcurrentStreams: options.limits?.maxConcurrentStreams ?? gatewayConfig.maxConcurrentStreams.default,
    maxHeaderListBytes: options.limits?.maxHeaderListBytes ?? gatewayConfig.maxHeaderListBytes.default,
    idleTimeoutMs: options.limits?.idleTimeoutMs ?? gatewayConfig.idleTimeoutMs.default,
    maxConnections: options.limits?.maxConnections ?? gatewayConfig.maxConnections.default,
    streamResetsPerSecond: options.limits?.streamResetsPerSecond ?? gatewayConfig.streamResetsPerSecond.default,
  };
  const logger = options.logger.child({ component: "gateway" });
  useBufferTextEncoding();
  const validate = createRequestValidator();
  // One idempotency memory for Decide, VAST and OpenRTB: a request id repeated by a key gets its first decision.
  const idempotency = options.idempotency ?? new IdempotentDecisions();
  const bounds: RpcBounds = { ...DEFAULT_RPC_BOUNDS, ...options.rpcBounds };
  const served: ServedService[] = [
    boundedService(
      validatedService(
        DecisionService,
        decisionHandlers({ ...options, idempotency }),
        validate,
      ) as unknown as ServedService,
      bounds,
      // Decide has its own deadline: the request's, within the engine's bounds (decide/decision-engine.ts).
      new Set(["decide"]),
    ),
    boundedService(
      validatedService(
        CampaignService,
        campaignHandlers(options.catalog, { allowHttpUrls: options.allowHttpCreativeUrls }),
        validate,
      ) as unknown as ServedService,
      bounds,
    ),
    boundedService(
      validatedService(
        ApiKeyService,
        apiKeyHandlers(options.apiKeys.admin, options.apiKeys.directory, options.catalog),
        validate,
      ) as unknown as ServedService,
      bounds,
    ),
  ];
  const health = new HealthStatus([...served.map((s) => s.service.typeName), Health.typeName]);
  const reflection = new DescriptorIndex([...served.map((s) => s.service), Health, ...reflectionServices]);

  const shutdown = new AbortController();
  // connect-node links every call's signal to this one: many concurrent calls are normal, not a leak.
  setMaxListeners(0, shutdown.signal);
  const { auth } = options;
  // The connect-node path's trust check (the fast path makes the same one before reading the body).
  const authenticate: Interceptor = (next) => (request) => {
    request.contextValues.set(
      principalKey,
      auth.check(request.header.get("authorization"), `/${request.service.typeName}/${request.method.name}`),
    );
    return next(request);
  };
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
    interceptors: [logUnexpected, authenticate],
    fallback: unknownMethod,
  });
  let ownUrl = "";
  const tracking = new TrackingUrls(() => options.publicUrl || ownUrl, options.macroStyle);
  const metrics = options.metrics;
  const currency = options.currency ?? gatewayConfig.currency.default;
  // The ledger refuses impressions later than its window (10 min): a player or exchange must not hold ads longer.
  const impressionWindowSeconds = 600;
  const vast: VastOptions = {
    tracking,
    currency,
    creatives: options.creatives,
    expiresSeconds: impressionWindowSeconds,
  };
  const fxRates = options.fxRates ?? {};
  const playerDecisions = httpDecisions({
    auth: options.auth,
    engine: options.engine,
    eventTokens: options.eventTokens,
    idempotency,
  });
  const httpEndpoints = httpEndpointRouter(
    [
      vastEndpoint({ decisions: playerDecisions, validate, ...vast }),
      auctionEndpoint({
        decisions: playerDecisions,
        vast,
        currencies: { account: currency, rate: (c) => (c === currency ? 1 : fxRates[c]) },
        maxBodyBytes: limits.maxMessageBytes,
        mimeOf: (id, mediaUrl, audio) => options.creatives?.(id)?.mimeType || guessMimeType(mediaUrl, audio),
        expSeconds: impressionWindowSeconds,
        counters: metrics && { request: (result) => metrics.openrtbRequests.inc({ result }) },
      }),
      trackingEndpoint({
        report: (events) => reportWithTokens(events, options.events, options.eventTokens),
        verifyToken: (token, decisionId, creativeId) => options.eventTokens.verify(token, decisionId, creativeId),
        counters: metrics && {
          hit: (event, result) => metrics.trackingHits.inc({ event, result }),
          vastError: (code) => metrics.vastErrors.inc({ code: String(code) }),
        },
      }),
    ],
    logger,
  );
  const handler: typeof connectHandler = (req, res) => {
    if (!httpEndpoints(req, res as HttpResponse)) connectHandler(req, res);
  };
  const fastPath: StreamHandler =
    options.fastPath === false
      ? () => false
      : createUnaryFastPath(served, {
          readMaxBytes: limits.maxMessageBytes,
          logger,
          admit: (authorization, procedure) => {
            const values = createContextValues();
            values.set(principalKey, auth.check(authorization, procedure));
            return values;
          },
        });

  const http2Limits = {
    settings: { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: limits.maxHeaderListBytes },
    maxHeaderListPairs: 128,
    // Node refuses streams beyond SETTINGS_MAX_CONCURRENT_STREAMS with RST_STREAM; a client that keeps opening
    // them (or opening and cancelling them, CVE-2023-44487) has its session closed after this many.
    maxSessionRejectedStreams: 100,
    maxSessionInvalidFrames: 1_000,
    // nghttp2's own rapid-reset limit (default a burst of 1,000 then 33/s) also closes the connections of honest
    // clients: a gRPC client cancels every call whose deadline passes, so one overloaded stretch cut every
    // connection with ENHANCE_YOUR_CALM and the gateway answered 5 of 1,000 calls/s instead of shedding the excess.
    streamResetBurst: limits.streamResetsPerSecond * 10,
    streamResetRate: limits.streamResetsPerSecond,
  };
  let server: Server;
  let h2: Http2Server | Http2SecureServer;
  let h1: Http1Server | Http2SecureServer;
  if (options.tls) {
    // TLS: ALPN picks h2 or http/1.1 per connection, so one secure server serves both; no preface sniffing.
    const secure = createSecureServer(
      {
        cert: options.tls.cert,
        key: options.tls.key,
        allowHTTP1: true,
        ALPNProtocols: ["h2", "http/1.1"],
        ...http2Limits,
      },
      handler,
    );
    server = secure;
    h2 = secure;
    h1 = secure;
  } else {
    h2 = createServer(http2Limits, handler);
    const plain = createHttp1Server({ maxHeaderSize: limits.maxHeaderListBytes }, handler);
    plain.keepAliveTimeout = Math.min(5_000, limits.idleTimeoutMs);
    plain.headersTimeout = Math.min(10_000, limits.idleTimeoutMs);
    plain.setTimeout(limits.idleTimeoutMs);
    h1 = plain;
    server = createDemuxServer(h2 as Http2Server, plain);
  }
  // A connection with no activity for idleTimeoutMs is told to go away; beyond maxConnections new ones are refused.
  h2.on("session", (session: Http2Session) => {
    session.setTimeout(limits.idleTimeoutMs, () => {
      // The session's own idle timer keeps it (and its socket's wrapper) reachable after it has closed: without
      // clearing it, 10,000 idle connections left ~25 MiB behind once every one had timed out (Node 20 and 24).
      session.setTimeout(0);
      session.close();
    });
  });
  server.maxConnections = limits.maxConnections;
  const tracker = trackConnections(server, h2, h1, fastPath, options.tls !== undefined);
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
  const url = `${options.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
  ownUrl = url;
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
function trackConnections(
  server: Server,
  h2: Http2Server | Http2SecureServer,
  h1: Http1Server | Http2SecureServer,
  fastPath: StreamHandler,
  tls: boolean,
) {
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
  // With TLS one server emits 'request' for both: HTTP/2 streams are counted above already.
  h1.on("request", (req: { httpVersionMajor: number }, res: { on(event: "close", fn: () => void): void }) => {
    if (tls && req.httpVersionMajor === 2) return;
    inFlight++;
    res.on("close", ended);
  });
  h2.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  server.on(tls ? "secureConnection" : "connection", (socket: Socket) => {
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
