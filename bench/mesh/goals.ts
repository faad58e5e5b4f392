import { LOAD_CLIENT_NAME } from "../lib/measure-step.ts";
import type { ProcessUsage } from "../lib/process-sampler.ts";
import type { RateStep, SearchResult } from "../lib/rate-search.ts";

/** One measured target: a coordination mode of the real mesh, or a ceiling. */
export interface TargetResult extends SearchResult {
  name: string;
  /** With --repeat: every run; the result's steps and rates are their medians (bench/lib/median-of-runs.ts). */
  runs?: SearchResult[];
  /** The mesh with no load, before its warm-up (meshes only). */
  idle?: ProcessUsage[];
  /** Why the target could not be measured (e.g. the mesh did not start). */
  error?: string;
}

export interface GoalCheck {
  goal: string;
  measured: string;
  met: boolean | undefined;
}

export const BARE_ECHO = "ceiling: bare http2 echo";
export const ECHO_CEILING = "ceiling: echo rpc";
export const FANOUT_CEILING = "ceiling: nats 5-way";

export function stepAt(result: TargetResult | undefined, rate: number): RateStep | undefined {
  return result?.steps.find((s) => s.rate === rate);
}

/** CPU per decision of the named processes (all but the load client when none are named), µs; undefined at 0/s. */
export function cpuPerDecisionUs(step: RateStep, only?: string): number | undefined {
  if (step.throughput <= 0) return undefined;
  const cpu = step.processes
    .filter((p) => p.name !== LOAD_CLIENT_NAME && (only === undefined || p.name === only))
    .reduce((a, p) => a + p.cpuPercent, 0);
  return Math.round((cpu / 100 / step.throughput) * 1e6);
}

const sum = (xs: readonly ProcessUsage[]) => Math.round(xs.reduce((a, p) => a + p.cpuPercent, 0) * 10) / 10;

/**
 * The targets for the whole mesh on a 2-core machine. A goal whose rate was never reached (the search
 * stopped below it) is reported as not met with the reason; a target that was not run leaves it undecided.
 * `compareRate` is where p50s are compared (cached against the bare echo, parallel against sequential).
 */
export function checkGoals(byName: ReadonlyMap<string, TargetResult>, compareRate: number): GoalCheck[] {
  // A target that failed is undecided, like one that was not run; its error is in the summary table.
  const measured = (name: string) => (byName.get(name)?.error ? undefined : byName.get(name));
  const cached = measured("cached");
  const parallel = measured("parallel");
  const sequential = measured("sequential");
  const bare = measured(BARE_ECHO);
  const notRun = "not run (or failed)";
  const p99At = (r: TargetResult | undefined, rate: number, bound: number): GoalCheck => {
    const step = stepAt(r, rate);
    return {
      goal: `${r?.name ?? "cached"}: p99 <= ${bound} ms at ${rate.toLocaleString("en")}/s`,
      measured: !r
        ? notRun
        : step
          ? `p99 ${step.latency.p99} ms, errors ${(step.errorRate * 100).toFixed(2)}%`
          : "rate not reached",
      met: !r ? undefined : step ? step.latency.p99 <= bound && step.errorRate <= 0.001 : false,
    };
  };
  const cpuAt = (r: TargetResult | undefined, rate: number, bound: number, only?: string): GoalCheck => {
    const step = stepAt(r, rate);
    const us = step && cpuPerDecisionUs(step, only);
    return {
      goal: `cached: CPU per decision at ${rate.toLocaleString("en")}/s, ${only ?? "whole mesh"} <= ${bound} µs`,
      measured: !r ? notRun : us !== undefined ? `${us} µs` : "rate not reached",
      met: !r ? undefined : us !== undefined && us <= bound,
    };
  };
  // Parallel's CPU at the highest step it sustained up to 1,000/s (fixed costs are spread thinnest there).
  const parallelStep = parallel?.steps.filter((s) => s.rate <= Math.min(1000, parallel.sustainedRate)).at(-1);
  const parallelUs = parallelStep && cpuPerDecisionUs(parallelStep);
  const ratio = (a: RateStep | undefined, b: RateStep | undefined) =>
    a && b && b.latency.p50 > 0 ? a.latency.p50 / b.latency.p50 : undefined;
  const cachedLow = stepAt(cached, compareRate);
  const bareLow = stepAt(bare, compareRate);
  const vsBare = ratio(cachedLow, bareLow);
  const seqStep = stepAt(sequential, compareRate);
  const parStep = stepAt(parallel, compareRate);
  const vsSequential = ratio(parStep, seqStep);
  const idle = cached?.idle ?? parallel?.idle ?? sequential?.idle;
  // The HTTP/2 load client's cost: the NATS fan-out ceiling's requester is another program (a NATS client).
  const clientSteps = [...byName.entries()]
    .filter(([name]) => name !== FANOUT_CEILING)
    .flatMap(([, r]) => r.steps)
    .filter((s) => s.clientCpuUs !== undefined);
  const clientWorst = clientSteps.filter((s) => s.rate >= 1000).reduce((a, s) => Math.max(a, s.clientCpuUs!), 0);
  const sold = (cached?.runs ?? (cached ? [cached] : [])).map((run) =>
    run.steps
      .filter((s) => s.rate <= run.sustainedRate)
      .map((s) => s.soldShare)
      .filter((x): x is number => x !== undefined),
  );
  const soldDrift = sold.length
    ? Math.max(...sold.map((xs) => (xs.length ? Math.max(...xs) - Math.min(...xs) : 0)))
    : 0;
  return [
    cpuAt(cached, 1000, 500),
    cpuAt(cached, 1000, 330, "gateway"),
    {
      goal: "cached: at least 3,000 decisions/s sustained",
      measured: cached ? `sustained ${cached.sustainedRate}/s` : notRun,
      met: cached ? cached.sustainedRate >= 3000 : undefined,
    },
    p99At(cached, 1000, 10),
    p99At(cached, 2000, 25),
    {
      goal: `cached p50 <= 2 x bare node:http2 echo p50 (at ${compareRate}/s)`,
      measured:
        vsBare === undefined
          ? "not measured at this rate in both"
          : `${cachedLow!.latency.p50} / ${bareLow!.latency.p50} ms = ${vsBare.toFixed(2)}x`,
      met: cached && bare ? vsBare !== undefined && vsBare <= 2 : undefined,
    },
    {
      goal: "idle mesh <= 2% of a core",
      measured: idle ? `${sum(idle)}% of a core` : notRun,
      met: idle ? sum(idle) <= 2 : undefined,
    },
    {
      goal: "parallel: CPU per decision across processes <= 2 ms",
      measured: !parallel
        ? notRun
        : parallelUs !== undefined
          ? `${parallelUs} µs at ${parallelStep!.rate}/s`
          : "no sustained step",
      met: parallel ? parallelUs !== undefined && parallelUs <= 2000 : undefined,
    },
    {
      goal: `parallel p50 <= 0.6 x sequential p50 (at ${compareRate}/s)`,
      measured:
        vsSequential === undefined
          ? "not measured at this rate in both modes"
          : `${parStep!.latency.p50} / ${seqStep!.latency.p50} ms = ${vsSequential.toFixed(2)}x`,
      met: parallel && sequential ? vsSequential !== undefined && vsSequential <= 0.6 : undefined,
    },
    {
      goal: "load client <= 50 µs CPU per request (steps at 1,000/s and up)",
      measured: clientWorst > 0 ? `at most ${clientWorst} µs` : "no step at 1,000/s or more",
      met: clientWorst > 0 ? clientWorst <= 50 : undefined,
    },
    {
      goal: "cached: sold share stationary (spread across a search's steps <= 0.05)",
      measured: sold.length ? `largest spread ${soldDrift.toFixed(3)}` : notRun,
      met: cached ? soldDrift <= 0.05 : undefined,
    },
  ];
}
