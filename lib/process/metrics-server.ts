/**
 * The `/metrics` HTTP endpoint of a process (Prometheus text format of a prom-client registry): shared by the
 * gateway, agent hosts, the Budget agent and the ledger (telemetry/metrics.ts builds the gateway's and agents'
 * registry; the ledger serves the bad-message counter of lib/nats/bad-messages.ts and the default metrics).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { parsers } from "../config/config.ts";

export const metricsConfigSchema = {
  port: {
    env: "METRICS_PORT",
    default: 0,
    parse: parsers.port,
    help: "port of the Prometheus /metrics endpoint; 0 = off",
  },
  host: {
    env: "METRICS_HOST",
    default: "127.0.0.1",
    parse: parsers.string,
    help: "address the /metrics endpoint binds; 0.0.0.0 to let a remote Prometheus scrape it",
  },
};

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves GET /metrics on `host:port` (default 127.0.0.1: metrics name campaigns and reveal traffic, so they are
 * not published to the network unless asked); resolves to undefined when port is 0 (off).
 */
export async function startMetricsServer(
  port: number,
  registry: Registry,
  host = metricsConfigSchema.host.default,
): Promise<MetricsServer | undefined> {
  if (port === 0) return undefined;
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") {
      res.writeHead(404).end("not found: GET /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(`metrics failed: ${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
