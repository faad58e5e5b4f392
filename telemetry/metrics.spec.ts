import { networkInterfaces } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../lib/nats/nats-server-process.ts";
import { createChorusMetrics, type MetricsServer, startMetricsServer } from "./metrics.ts";

describe("metrics", () => {
  let server: MetricsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("metrics - /metrics serves the named metrics in Prometheus text format", async () => {
    const metrics = createChorusMetrics();
    metrics.decisions.inc({ coordination: "parallel", outcome: "filled" });
    metrics.decideLatency.observe({ coordination: "parallel" }, 0.012);
    metrics.degradedAgents.inc({ agent: "bidding", reason: "timeout" });
    metrics.spend.inc(1_500_000);
    server = await startMetricsServer(await freePort(), metrics.registry, "127.0.0.1");
    const res = await fetch(`http://127.0.0.1:${server!.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toContain('chorus_decisions_total{coordination="parallel",outcome="filled"} 1');
    expect(text).toContain('chorus_decide_duration_seconds_bucket{le="0.02",coordination="parallel"} 1');
    expect(text).toContain('chorus_degraded_agents_total{agent="bidding",reason="timeout"} 1');
    expect(text).toContain("chorus_spend_micros_total 1500000");
    expect((await fetch(`http://127.0.0.1:${server!.port}/other`)).status).toBe(404);
  });

  it("metrics - a module's new version replaces the old one in the info gauge", async () => {
    const metrics = createChorusMetrics();
    metrics.setModuleVersion("kernel", "1.0.0");
    metrics.setModuleVersion("kernel", "1.1.0");
    metrics.setModuleVersion("bidding", "7");
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('version="1.0.0"');
    expect(text).toContain('chorus_module_version_info{module="kernel",version="1.1.0"} 1');
    expect(text).toContain('chorus_module_version_info{module="bidding",version="7"} 1');
  });

  it("metrics - binds 127.0.0.1 unless told otherwise: not reachable on the machine's other addresses", async () => {
    server = await startMetricsServer(await freePort(), createChorusMetrics().registry);
    const address = (server as unknown as { port: number }).port;
    expect((await fetch(`http://127.0.0.1:${address}/metrics`)).status).toBe(200);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === "IPv4" && !i.internal)?.address;
    if (external) await expect(fetch(`http://${external}:${address}/metrics`)).rejects.toThrow();
  });

  it("metrics - port 0 turns the endpoint off", async () => {
    expect(await startMetricsServer(0, createChorusMetrics().registry)).toBeUndefined();
  });
});
