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
} satisfies Record<string, ConfigField<unknown>>;
