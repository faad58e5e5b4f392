/**
 * Prometheus metrics: one prom-client registry per process (`processMetrics()`), the same metric names in the
 * gateway and the agents (a process only moves the ones it owns), and a tiny `/metrics` HTTP server.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { badMessagesCounter } from "../lib/nats/bad-messages.ts";
import { startMetricsServer as serveMetrics } from "../lib/process/metrics-server.ts";
import { survivedErrors } from "../lib/process/survive.ts";

/** Latency buckets in seconds: a decision's budget is tens of milliseconds, so resolution sits below 100 ms. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5];

export function createChorusMetrics(registry: Registry = new Registry()) {
  const registers = [registry];
  const activeVersions = new Map<string, string>();
  const moduleVersion = new Gauge({
    name: "chorus_module_version_info",
    help: "Active version of each hot-swappable module (value 1 on the active version)",
    labelNames: ["module", "version"] as const,
    registers,
  });
  return {
    registry,
    survivedErrors: new Counter({
      name: "chorus_survived_errors_total",
      help: "Errors a watcher, timer, listener or handler threw that the process caught, logged and survived, by where",
      labelNames: ["where"] as const,
      registers,
      collect() {
        this.reset();
        for (const [where, n] of survivedErrors()) this.inc({ where }, n);
      },
    }),
    decisions: new Counter({
      name: "chorus_decisions_total",
      help: "Decisions answered, by coordination mode and outcome (filled, a no-fill reason, or error)",
      labelNames: ["coordination", "outcome"] as const,
      registers,
    }),
    decideLatency: new Histogram({
      name: "chorus_decide_duration_seconds",
      help: "Time from request validated to response built, by coordination mode",
      labelNames: ["coordination"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    degradedAgents: new Counter({
      name: "chorus_degraded_agents_total",
      help: "Agents that did not vote in time and were replaced by a fallback, by agent and reason",
      labelNames: ["agent", "reason"] as const,
      registers,
    }),
    agentVoteLatency: new Histogram({
      name: "chorus_agent_vote_duration_seconds",
      help: "Time to obtain one agent's vote (round trip in the gateway, compute time in the agent)",
      labelNames: ["agent", "coordination"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    leases: new Gauge({
      name: "chorus_spend_leases",
      help: "Budget leases this process holds, by state (active, expiring, renewing)",
      labelNames: ["state"] as const,
      registers,
    }),
    spend: new Counter({
      name: "chorus_spend_micros_total",
      help: "Spend committed against budget leases, in micros of the account currency",
      registers,
    }),
    moduleVersion,
    /** Marks `version` as the active version of `module`, removing the series of the previous one. */
    setModuleVersion(module: string, version: string): void {
      const previous = activeVersions.get(module);
      if (previous === version) return;
      if (previous !== undefined) moduleVersion.remove({ module, version: previous });
      activeVersions.set(module, version);
      moduleVersion.set({ module, version }, 1);
    },
    trackingHits: new Counter({
      name: "chorus_tracking_hits_total",
      help: "Tracking URL hits (GET /t/...), by event and result (accepted, duplicate, rejected, noted, invalid)",
      labelNames: ["event", "result"] as const,
      registers,
    }),
    vastErrors: new Counter({
      name: "chorus_vast_errors_total",
      help: "VAST error codes players reported through [ERRORCODE]",
      labelNames: ["code"] as const,
      registers,
    }),
    openrtbRequests: new Counter({
      name: "chorus_openrtb_requests_total",
      help: "OpenRTB bid requests, by result (bid, no_bid, invalid, late, error)",
      labelNames: ["result"] as const,
      registers,
    }),
    decisionLogRecords: new Counter({
      name: "chorus_decision_log_records_total",
      help: "Decision log records, by result (published, sampled_out, dropped_notable_rate, dropped_buffer_full, failed)",
      labelNames: ["result"] as const,
      registers,
    }),
  };
}

export type ChorusMetrics = ReturnType<typeof createChorusMetrics>;

let shared: ChorusMetrics | undefined;

/** The process's registry, with Node's default metrics (event loop lag, GC, heap), created on first use. */
export function processMetrics(): ChorusMetrics {
  if (!shared) {
    shared = createChorusMetrics();
    // The event-loop lag histogram samples with a timer: prom-client's 10 ms default wakes an idle process 100
    // times a second (most of an idle gateway's CPU), 100 ms still 10 times in each of the mesh's six processes. Once
    // a second: a stall over a tick still shows as one late tick (the gateway sheds load on its own LoopLag).
    collectDefaultMetrics({ register: shared.registry, eventLoopMonitoringPrecision: 1_000 });
    shared.registry.registerMetric(badMessagesCounter);
  }
  return shared;
}

export { type MetricsServer, metricsConfigSchema } from "../lib/process/metrics-server.ts";

/** Serves this process's registry (processMetrics) unless another is given; undefined when port is 0 (off). */
export function startMetricsServer(
  port: number,
  registry: Registry = processMetrics().registry,
  host?: string,
): ReturnType<typeof serveMetrics> {
  return serveMetrics(port, registry, host);
}
