import { type SimMetrics, simMetrics } from "./metrics.ts";
import { type Estimate, estimate } from "./stats.ts";
import type { Scenario } from "./world/scenario.ts";
import type { Strategy } from "./world/strategy.ts";
import { runWorld } from "./world/world.ts";

/** One strategy in one seed's world. */
export interface SeedRun {
  seed: number;
  strategy: string;
  metrics?: SimMetrics;
  /** Per-campaign books and flight (simulated ms), to see which campaigns under- or over-delivered. */
  campaigns?: object[];
  error?: string;
  wallSeconds: number;
  /** CPU of this process during the run (user + system): the cost of a run on a shared machine. */
  cpuSeconds: number;
}

export interface StrategySummary {
  /** Every numeric metric over the seeds: mean and 95% interval, under the metric's name. */
  metrics: Record<string, Estimate>;
  wallSeconds: Estimate;
  cpuSeconds: Estimate;
  failedRuns: number;
}

/** Paired over seeds against the straw monolith (same world, same seed). */
export interface Comparison {
  /** advertiserRoi / monolith's - 1 (0.25 = +25%). */
  roiVsMonolith: Estimate;
  /** underDelivery - monolith's, in shares (0.02 = 2 points more). */
  underDeliveryVsMonolith: Estimate;
}

export interface MultiSeedResult {
  seeds: number[];
  runs: SeedRun[];
  strategies: Record<string, StrategySummary>;
  comparisons: Record<string, Comparison>;
}

export interface MultiSeedOptions {
  /** A fresh strategy for each run. */
  make: (name: string) => Strategy;
  onRun?: (done: number, total: number, run: SeedRun) => void;
  onProgress?: (fraction: number, seed: number, strategy: string) => void;
}

/** Runs every strategy in every seed's world (one after another) and summarises each metric over the seeds. */
export async function runSeeds(
  scenario: Scenario,
  seeds: readonly number[],
  strategies: readonly string[],
  options: MultiSeedOptions,
): Promise<MultiSeedResult> {
  const runs: SeedRun[] = [];
  const total = seeds.length * strategies.length;
  for (const seed of seeds) {
    for (const name of strategies) {
      const strategy = options.make(name);
      const started = performance.now();
      const cpu = process.cpuUsage();
      const cpuSeconds = () => {
        const used = process.cpuUsage(cpu);
        return (used.user + used.system) / 1e6;
      };
      let run: SeedRun;
      try {
        await strategy.launch();
        const outcome = await runWorld({ ...scenario, seed }, strategy, {
          onProgress: (f) => options.onProgress?.(f, seed, name),
        });
        run = {
          seed,
          strategy: name,
          metrics: simMetrics(outcome),
          campaigns: [...outcome.ledger.all()].map(([id, books]) => ({
            id,
            ...books,
            ...outcome.market.flights.get(id),
          })),
          wallSeconds: (performance.now() - started) / 1000,
          cpuSeconds: cpuSeconds(),
        };
      } catch (err) {
        run = {
          seed,
          strategy: name,
          error: (err as Error).message,
          wallSeconds: (performance.now() - started) / 1000,
          cpuSeconds: cpuSeconds(),
        };
      } finally {
        await strategy.stop().catch(() => undefined);
      }
      runs.push(run);
      options.onRun?.(runs.length, total, run);
    }
  }
  return { seeds: [...seeds], runs, strategies: summarise(runs, strategies), comparisons: compare(runs, strategies) };
}

function summarise(runs: readonly SeedRun[], strategies: readonly string[]): Record<string, StrategySummary> {
  const out: Record<string, StrategySummary> = {};
  for (const name of strategies) {
    const mine = runs.filter((r) => r.strategy === name);
    const ok = mine.filter((r) => r.metrics);
    const keys = Object.entries(ok[0]?.metrics ?? {})
      .filter(([, v]) => typeof v === "number")
      .map(([k]) => k as keyof SimMetrics);
    out[name] = {
      metrics: Object.fromEntries(keys.map((k) => [k, estimate(ok.map((r) => r.metrics![k] as number))])),
      wallSeconds: estimate(mine.map((r) => r.wallSeconds)),
      cpuSeconds: estimate(mine.map((r) => r.cpuSeconds)),
      failedRuns: mine.length - ok.length,
    };
  }
  return out;
}

function compare(runs: readonly SeedRun[], strategies: readonly string[]): Record<string, Comparison> {
  const out: Record<string, Comparison> = {};
  const base = new Map(runs.filter((r) => r.strategy === "monolith" && r.metrics).map((r) => [r.seed, r.metrics!]));
  if (base.size === 0) return out;
  for (const name of strategies) {
    if (name === "monolith") continue;
    const pairs = runs
      .filter((r) => r.strategy === name && r.metrics && base.has(r.seed))
      .map((r) => [r.metrics!, base.get(r.seed)!] as const);
    out[name] = {
      roiVsMonolith: estimate(
        pairs.filter(([, b]) => b.advertiserRoi > 0).map(([m, b]) => m.advertiserRoi / b.advertiserRoi - 1),
      ),
      underDeliveryVsMonolith: estimate(pairs.map(([m, b]) => m.underDelivery - b.underDelivery)),
    };
  }
  return out;
}
