import { summarize } from "./latency-histogram.ts";
import type { LoadClient } from "./load-client-handle.ts";
import type { LoadTarget } from "./load-client-protocol.ts";
import { ProcessSampler } from "./process-sampler.ts";
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

/** Runs one open-loop step in the load client while sampling every process, and summarises it. */
export async function measureStep(o: MeasureOptions): Promise<RateStep> {
  const sampler = new ProcessSampler().start([...o.processes, { name: LOAD_CLIENT_NAME, pid: o.client.pid }]);
  const result = await o.client.run(o.target, o.rate, o.durationMs, (p) => o.progress?.update(p.elapsedMs, p));
  const processes = sampler.stop();
  const machine = sampler.machine;
  o.progress?.stepDone(o.durationMs);
  const latency = summarize(result.latency);
  const errorRate = result.issued === 0 ? 0 : result.errors / result.issued;
  return {
    rate: o.rate,
    throughput: Math.round((result.completed / Math.max(result.elapsedMs, o.durationMs)) * 1000),
    latency,
    clientLagP99: summarize(result.sendLag).p99,
    errors: result.errors,
    errorRate,
    errorSamples: result.errorSamples,
    processes,
    machine,
    passed: passes(latency, errorRate, o.criteria),
  };
}
