import type { RateStep, SearchResult } from "../lib/rate-search.ts";

/** One measured target: a coordination mode of the real mesh, or a ceiling. */
export interface TargetResult extends SearchResult {
  name: string;
  /** With --repeat: every run; the result's steps and rates are their medians (bench/lib/median-of-runs.ts). */
  runs?: SearchResult[];
  /** Why the target could not be measured (e.g. the mesh did not start). */
  error?: string;
}

export interface GoalCheck {
  goal: string;
  measured: string;
  met: boolean | undefined;
}

export function stepAt(result: TargetResult | undefined, rate: number): RateStep | undefined {
  return result?.steps.find((s) => s.rate === rate);
}

/**
 * The targets for the whole mesh on a 2-core machine. A goal whose rate was never reached (the search
 * stopped below it) is reported as not met with the reason; a mode that was not run leaves it undecided.
 */
export function checkGoals(byName: ReadonlyMap<string, TargetResult>, compareRate: number): GoalCheck[] {
  // A mode that failed to start is undecided, like one that was not run; its error is in the summary table.
  const measured = (name: string) => (byName.get(name)?.error ? undefined : byName.get(name));
  const cached = measured("cached");
  const parallel = measured("parallel");
  const sequential = measured("sequential");
  const p99At = (r: TargetResult | undefined, rate: number, bound: number): GoalCheck["met"] => {
    if (!r) return undefined;
    const step = stepAt(r, rate);
    return step ? step.latency.p99 <= bound && step.errorRate <= 0.001 : false;
  };
  const show = (r: TargetResult | undefined, rate: number) => {
    if (!r) return "not run (or failed)";
    const step = stepAt(r, rate);
    return step ? `p99 ${step.latency.p99} ms, errors ${(step.errorRate * 100).toFixed(2)}%` : "rate not reached";
  };
  const seqStep = stepAt(sequential, compareRate);
  const parStep = stepAt(parallel, compareRate);
  const ratio = seqStep && parStep && seqStep.latency.p50 > 0 ? parStep.latency.p50 / seqStep.latency.p50 : undefined;
  return [
    {
      goal: "cached: at least 5,000 decisions/s",
      measured: cached ? `sustained ${cached.sustainedRate}/s` : "not run (or failed)",
      met: cached ? cached.sustainedRate >= 5000 : undefined,
    },
    { goal: "cached: p99 <= 10 ms at 2,500/s", measured: show(cached, 2500), met: p99At(cached, 2500, 10) },
    {
      goal: "parallel: at least 2,500 decisions/s",
      measured: parallel ? `sustained ${parallel.sustainedRate}/s` : "not run (or failed)",
      met: parallel ? parallel.sustainedRate >= 2500 : undefined,
    },
    { goal: "parallel: p99 <= 15 ms at 1,000/s", measured: show(parallel, 1000), met: p99At(parallel, 1000, 15) },
    {
      goal: `parallel p50 <= 0.6 x sequential p50 (at ${compareRate}/s)`,
      measured:
        ratio === undefined
          ? "not measured at this rate in both modes"
          : `${parStep!.latency.p50} / ${seqStep!.latency.p50} ms = ${ratio.toFixed(2)}x`,
      met: parallel && sequential ? ratio !== undefined && ratio <= 0.6 : undefined,
    },
  ];
}
