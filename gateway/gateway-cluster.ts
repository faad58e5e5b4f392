import cluster, { type Worker } from "node:cluster";
import { createLogger } from "../lib/log/logger.ts";
import { onShutdown, signalReady } from "../lib/process/child-lifecycle.ts";

export interface GatewayClusterOptions {
  processes: number;
  /** Process k (1-based) is `<gatewayId>-<k>`: its own leases, receipts and spool. */
  gatewayId: string;
  /** When set, process k serves /metrics on metricsPort + k - 1 (one registry per process). */
  metricsPort: number;
}

/** A process that keeps dying is started again after this, not in a tight loop. */
const RESTART_DELAY_MS = 1_000;

/**
 * GATEWAY_PROCESSES=n: n gateway processes behind one port. node:cluster's primary accepts each connection and hands
 * it to the next process, so a host's cores all serve Decide (one gateway's event loop runs on one core). Each is a
 * whole gateway — its own NATS connection, signal mirrors, kernel pool, spend leases and receipt spool — as
 * several gateways on several hosts are. The primary is ready when every process is, starts again a process that
 * exits, and stops them all on SIGTERM (each drains its calls first). A process that crashes takes its connections
 * with it, as any crashed server does, and so may a connection handed to it in the instant before the primary sees
 * the exit: clients retry on a new connection after their deadline.
 */
export function runGatewayCluster({ processes, gatewayId, metricsPort }: GatewayClusterOptions): void {
  const name = process.env.CHORUS_PROCESS_NAME ?? "gateway";
  const logger = createLogger(name);
  const workers = new Map<number, Worker>();
  const ready = new Map<number, Record<string, unknown>>();
  let announced = false;
  let stopping = false;

  const start = (k: number) => {
    const worker = cluster.fork({
      GATEWAY_ID: `${gatewayId}-${k}`,
      CHORUS_PROCESS_NAME: `${name}-${k}`,
      ...(metricsPort ? { METRICS_PORT: String(metricsPort + k - 1) } : {}),
    });
    workers.set(k, worker);
    worker.on("message", (msg: { type?: string } | undefined) => {
      if (msg?.type !== "ready") return;
      ready.set(k, msg as Record<string, unknown>);
      if (!announced && ready.size === processes) {
        announced = true;
        const first = ready.get(1)!;
        signalReady({ url: first.url, coordination: first.coordination, processes });
        logger.info({ url: first.url, processes }, "gateway processes ready");
      }
    });
    worker.on("exit", (code, signal) => {
      ready.delete(k);
      workers.delete(k);
      if (stopping) return;
      logger.error({ process: k, code, signal }, "gateway process exited; starting it again");
      setTimeout(() => {
        if (!stopping) start(k);
      }, RESTART_DELAY_MS).unref();
    });
  };
  for (let k = 1; k <= processes; k++) start(k);

  onShutdown(async () => {
    stopping = true;
    await Promise.all(
      [...workers.values()].map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once("exit", () => resolve());
            w.process.kill("SIGTERM");
          }),
      ),
    );
  });
}
