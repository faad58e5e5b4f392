import { hostname } from "node:os";
import { type ConfigField, parsers } from "../lib/config/config.ts";

/** The gateway's environment variables (lib/config/config.ts `loadConfig(gatewayConfig)`). */
export const gatewayConfig = {
  host: {
    env: "GATEWAY_HOST",
    default: "127.0.0.1",
    parse: parsers.string,
    help: "address to listen on; 0.0.0.0 or :: to accept remote clients",
  },
  port: {
    env: "GATEWAY_PORT",
    default: 8080,
    parse: parsers.port,
    help: "the one port for Connect, gRPC, gRPC-Web, reflection and health (HTTP/2 cleartext and HTTP/1.1)",
  },
  maxMessageBytes: {
    env: "GATEWAY_MAX_MESSAGE_BYTES",
    default: 1024 * 1024,
    parse: parsers.int(1024, 64 * 1024 * 1024),
    help: "largest request message in bytes; larger ones get RESOURCE_EXHAUSTED (gRPC's max receive message length)",
  },
  gatewayId: {
    env: "GATEWAY_ID",
    default: `${hostname()}-${process.pid}`,
    parse: parsers.string,
    help: "names this gateway in leases and receipts (with GATEWAY_PROCESSES, process k is <id>-<k>)",
  },
  processes: {
    env: "GATEWAY_PROCESSES",
    default: 1,
    parse: parsers.int(1, 64),
    help: "gateway processes sharing the port (node:cluster): one event loop serves from one core",
  },
  maxConcurrentStreams: {
    env: "GATEWAY_MAX_CONCURRENT_STREAMS",
    default: 100,
    parse: parsers.int(1, 10_000),
    help: "HTTP/2 streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS)",
  },
  maxHeaderListBytes: {
    env: "GATEWAY_MAX_HEADER_LIST_BYTES",
    default: 16 * 1024,
    parse: parsers.int(1024, 1024 * 1024),
    help: "largest request header block (HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE, HTTP/1.1 max header size)",
  },
  idleTimeoutMs: {
    env: "GATEWAY_IDLE_TIMEOUT_MS",
    default: 120_000,
    parse: parsers.int(100, 3_600_000),
    help: "a connection idle for this long is closed (HTTP/2 GOAWAY)",
  },
  streamResetsPerSecond: {
    env: "GATEWAY_STREAM_RESETS_PER_SECOND",
    default: 1_000,
    parse: parsers.int(1, 1_000_000),
    help:
      "RST_STREAM frames one connection may send per second, after a burst of 10x this, before it is closed " +
      "(CVE-2023-44487); a client whose deadlines expire under load cancels streams too (Node's 33/s cut those)",
  },
  maxConnections: {
    env: "GATEWAY_MAX_CONNECTIONS",
    default: 16_384,
    parse: parsers.int(1, 1_000_000),
    help: "connections beyond this are refused (raise the process's file limit to match)",
  },
  rpcDeadlineMs: {
    env: "GATEWAY_RPC_DEADLINE_MS",
    default: 10_000,
    parse: parsers.int(100, 600_000),
    help: "server-side deadline of every unary call but Decide (which has its own): DEADLINE_EXCEEDED after it",
  },
  streamMaxMs: {
    env: "GATEWAY_STREAM_MAX_MS",
    default: 600_000,
    parse: parsers.int(1_000, 86_400_000),
    help: "a StreamPlayback stream ends with DEADLINE_EXCEEDED after this long (the client opens a new one)",
  },
  streamMaxMessages: {
    env: "GATEWAY_STREAM_MAX_MESSAGES",
    default: 100_000,
    parse: parsers.int(1, 100_000_000),
    help: "messages one StreamPlayback stream may carry; past it RESOURCE_EXHAUSTED",
  },
  streamPerSecond: {
    env: "GATEWAY_STREAM_MAX_PER_SECOND",
    default: 200,
    parse: parsers.int(1, 1_000_000),
    help: "messages per second one StreamPlayback stream is read at: a faster sender is paced (flow control)",
  },
  tlsCert: {
    env: "GATEWAY_TLS_CERT",
    default: "",
    parse: parsers.string,
    help: "PEM certificate (chain) file: serve HTTPS with ALPN h2 and http/1.1 on the one port (with GATEWAY_TLS_KEY)",
  },
  tlsKey: {
    env: "GATEWAY_TLS_KEY",
    default: "",
    parse: parsers.string,
    help: "PEM private key file of GATEWAY_TLS_CERT",
  },
  allowHttpCreativeUrls: {
    env: "CHORUS_ALLOW_HTTP_CREATIVE_URLS",
    default: false,
    parse: parsers.bool,
    help: "development only: accept http:// creative media, click and tracking URLs (https is always accepted)",
  },
  drainTimeoutMs: {
    env: "GATEWAY_DRAIN_TIMEOUT_MS",
    default: 10_000,
    parse: parsers.int(0, 600_000),
    help: "how long close() waits for in-flight calls before cutting connections",
  },
  publicUrl: {
    env: "GATEWAY_PUBLIC_URL",
    default: "",
    parse: (raw: string) => {
      if (raw && !/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(raw))
        throw new Error("must be an http(s) URL without query");
      return raw;
    },
    help: "base URL of the tracking links in VAST and OpenRTB answers (a CDN or another domain); default the gateway's own URL",
  },
  vastMacros: {
    env: "VAST_MACROS",
    default: "encoded" as "encoded" | "literal",
    parse: parsers.oneOf("encoded", "literal"),
    help: "macros in tracking URLs: encoded (%5BTIMESTAMP%5D, valid xs:anyURI, passes the IAB schema) or literal ([TIMESTAMP], for players that replace only that form)",
  },
  currency: {
    env: "CHORUS_CURRENCY",
    default: "USD",
    parse: (raw: string) => {
      if (!/^[A-Z]{3}$/.test(raw)) throw new Error("must be an ISO 4217 code such as USD");
      return raw;
    },
    help: "the account currency of budgets and prices (VAST <Pricing>, OpenRTB bids)",
  },
  fxRates: {
    env: "OPENRTB_FX_RATES",
    default: {} as Record<string, number>,
    parse: (raw: string) => {
      const rates: Record<string, number> = {};
      for (const pair of raw.split(",").filter(Boolean)) {
        const m = /^\s*([A-Z]{3})\s*[:=]\s*(\d+(?:\.\d+)?)\s*$/.exec(pair);
        if (!m || !(Number(m[2]) > 0)) throw new Error(`"${pair}" is not CODE:rate, e.g. EUR:0.92`);
        rates[m[1]!] = Number(m[2]);
      }
      return rates;
    },
    help: "OpenRTB: units of other currencies per unit of the account currency, e.g. EUR:0.92,GBP:0.79 (bids in them, floors from them)",
  },
} satisfies Record<string, ConfigField<unknown>>;
