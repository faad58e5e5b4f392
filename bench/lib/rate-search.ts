import type { LatencySummary } from "./latency-histogram.ts";
import type { MachineUsage, ProcessUsage } from "./process-sampler.ts";

/** One measured step at a fixed arrival rate. */
export interface RateStep {
  rate: number;
  /** Completed responses per second over the step. */
  throughput: number;
  latency: LatencySummary;
  /** How late the client issued requests against its schedule (p99, ms): large values mean the client lagged. */
  clientLagP99: number;
  errors: number;
  errorRate: number;
  errorSamples: string[];
  /** Share of answered decisions that carried at least one ad (decision targets only): must not drift by step. */
  soldShare?: number;
  /** Load client CPU per request sent, µs (all its processes). */
  clientCpuUs?: number;
  /** CPU of every measured process but the load client, per completed request, µs. */
  serverCpuUs?: number;
  processes: ProcessUsage[];
  /** The whole machine during the step: a busy machine or CPU outside the bench makes the step suspect. */
  machine?: MachineUsage;
  passed: boolean;
}

export interface SearchCriteria {
  /** A step passes when p99 <= sloP99Ms and errorRate <= maxErrorRate. */
  sloP99Ms: number;
  maxErrorRate: number;
  /** The search stops after a step whose p99 exceeds this (overload: higher rates only queue more). */
  stopP99Ms: number;
}

export interface SearchResult {
  steps: RateStep[];
  /** The highest rate that passed with every lower measured rate passing too; 0 if none. */
  maxPassingRate: number;
  /** The highest rate, likewise, with errors within bound and p99 under stopP99Ms: what the system keeps up with. */
  sustainedRate: number;
}

export function passes(latency: LatencySummary, errorRate: number, c: SearchCriteria): boolean {
  return latency.p99 <= c.sloP99Ms && errorRate <= c.maxErrorRate;
}

/**
 * Steps the arrival rate up until overload: it keeps going past the first SLO miss (so targets with a looser
 * bound, e.g. p99 <= 15 ms, still get measured) and stops at errors above the bound or p99 above stopP99Ms.
 */
export async function searchRates(
  rates: readonly number[],
  criteria: SearchCriteria,
  runStep: (rate: number) => Promise<RateStep>,
): Promise<SearchResult> {
  const steps: RateStep[] = [];
  let maxPassingRate = 0;
  let allPassed = true;
  let sustainedRate = 0;
  for (const rate of [...rates].sort((a, b) => a - b)) {
    const step = await runStep(rate);
    steps.push(step);
    if (step.passed && allPassed) maxPassingRate = rate;
    allPassed &&= step.passed;
    if (step.errorRate > criteria.maxErrorRate || step.latency.p99 > criteria.stopP99Ms) break;
    sustainedRate = rate;
  }
  return { steps, maxPassingRate, sustainedRate };
}
