import type { RateStep, SearchResult } from "./rate-search.ts";

/** The lower median (an actual value of the list, not an average of two). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/**
 * Several searches of the same target reduced to one: on a shared 2-core machine whole runs differ 2-10x in p50,
 * so one run is an anecdote. Each rate keeps the step with the median p99 among the runs that measured it (a real
 * step, so its p50, CPU and errors belong together), and only if at least half the runs got there; the highest
 * passing and sustained rates are the medians of the runs' own.
 */
export function medianOfRuns(runs: readonly SearchResult[]): SearchResult {
  if (runs.length === 0) throw new Error("medianOfRuns: no runs");
  if (runs.length === 1) return runs[0]!;
  const byRate = new Map<number, RateStep[]>();
  for (const run of runs) for (const step of run.steps) byRate.set(step.rate, [...(byRate.get(step.rate) ?? []), step]);
  const steps: RateStep[] = [];
  for (const [rate, measured] of [...byRate].sort((a, b) => a[0] - b[0])) {
    if (measured.length * 2 < runs.length) continue;
    const p99 = median(measured.map((s) => s.latency.p99));
    steps.push(measured.find((s) => s.latency.p99 === p99 && s.rate === rate)!);
  }
  return {
    steps,
    maxPassingRate: median(runs.map((r) => r.maxPassingRate)),
    sustainedRate: median(runs.map((r) => r.sustainedRate)),
  };
}
