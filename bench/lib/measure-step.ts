import { summarize } from "./latency-histogram.ts";
import type { LoadClient } from "./load-client-handle.ts";
import type { LoadTarget } from "./load-client-protocol.ts";
import { ProcessSampler, type ProcessUsage } from "./process-sampler.ts";
import { passes, type RateStep, type SearchCriteria } from "./rate-search.ts";
import type { StepProgress } from "./step-progress.ts";

/** The load generator's name in process tables: its CPU is the bench's, not the mesh's. */
export const LOAD_CLIENT_NAME = "load-client";

export interface MeasureOptions {
  client: LoadClient;
  target: LoadTarget;
  rate: number;
  durationMs: number;
  criteria: SearchCriteria;
  /** Processes whose CPU and memory are reported (the load client is added). */
  processes: readonly { name: string; pid: number }[];
  progress?: StepProgress;
}

/** CPU per completed request (µs) of a CPU share (% of a core) at a throughput (per second). */
export const cpuPerRequestUs = (cpuPercent: number, perSecond: number) =>
  perSecond > 0 ? Math.round((cpuPercent / 100 / perSecond) * 1e6) : 0;

/** Runs one open-loop step in the load client while sampling every process, and summarises it. */
export async function measureStep(o: MeasureOptions): Promise<RateStep> {
  const clients = o.client.pids.map((pid) => ({ name: LOAD_CLIENT_NAME, pid }));
  const sampler = new ProcessSampler().start([...o.processes, ...clients]);
  const result = await o.client.run(o.target, o.rate, o.durationMs, (p) => o.progress?.update(p.elapsedMs, p));
  const processes = mergeLoadClients(sampler.stop());
  const machine = sampler.machine;
  o.progress?.stepDone(o.durationMs);
  const latency = summarize(result.latency);
  const errorRate = result.issued === 0 ? 0 : result.errors / result.issued;
  const throughput = Math.round((result.completed / Math.max(result.elapsedMs, o.durationMs)) * 1000);
  const served = processes.filter((p) => p.name !== LOAD_CLIENT_NAME);
  const clientCpu = processes.find((p) => p.name === LOAD_CLIENT_NAME)?.cpuPercent ?? 0;
  const offered = (result.issued / Math.max(result.elapsedMs, o.durationMs)) * 1000;
  return {
    rate: o.rate,
    throughput,
    latency,
    clientLagP99: summarize(result.sendLag).p99,
    errors: result.errors,
    errorRate,
    errorSamples: result.errorSamples,
    ...(result.ads >= 0 && o.target.kind === "http2-unary" && o.target.countAds
      ? { soldShare: result.completed > 0 ? Math.round((result.sold / result.completed) * 1000) / 1000 : 0 }
      : {}),
    clientCpuUs: cpuPerRequestUs(clientCpu, offered),
    serverCpuUs: cpuPerRequestUs(
      served.reduce((a, p) => a + p.cpuPercent, 0),
      throughput,
    ),
    processes,
    machine,
    passed: passes(latency, errorRate, o.criteria),
  };
}

/** The load client's processes as one row: together they are the client. */
export function mergeLoadClients(usage: ProcessUsage[]): ProcessUsage[] {
  const clients = usage.filter((p) => p.name === LOAD_CLIENT_NAME);
  if (clients.length <= 1) return usage;
  const merged: ProcessUsage = {
    name: LOAD_CLIENT_NAME,
    pid: clients[0]!.pid,
    cpuPercent: Math.round(clients.reduce((a, p) => a + p.cpuPercent, 0) * 10) / 10,
    peakRssMb: Math.round(clients.reduce((a, p) => a + p.peakRssMb, 0) * 10) / 10,
  };
  return [...usage.filter((p) => p.name !== LOAD_CLIENT_NAME), merged];
}
