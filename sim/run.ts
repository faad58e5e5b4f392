import { readFileSync } from "node:fs";
import cliProgress from "cli-progress";
import { Command, InvalidArgumentError } from "commander";
import { defaultJsonPath, formatTable, writeJson } from "../bench/lib/report-table.ts";
import type { Coordination } from "../launch/mesh.ts";
import { type MultiSeedResult, runSeeds, type SeedRun, summariseRuns } from "./multi-seed.ts";
import { type Estimate, parseSeeds } from "./stats.ts";
import { ChorusStrategy } from "./strategies/chorus.ts";
import { VirtualChorusStrategy } from "./strategies/chorus-virtual.ts";
import { MonolithStrategy } from "./strategies/monolith.ts";
import { MonolithPacedStrategy } from "./strategies/monolith-paced.ts";
import { impressionWindowMinutes } from "./world/billing-window.ts";
import { loadScenario, parseScenario, type Scenario } from "./world/scenario.ts";
import type { Strategy } from "./world/strategy.ts";

interface MergedFile {
  scenario?: Scenario;
  runs: SeedRun[];
}

const STRATEGIES = ["monolith", "monolith-paced", "chorus", "chorus-mesh"] as const;
type StrategyName = (typeof STRATEGIES)[number];

const options = new Command("sim")
  .description(
    "Market simulator: the same seeded world under each strategy, over many seeds, compared with 95% confidence " +
      "intervals. `chorus` is Chorus's real decision logic in virtual time (one process, simulated clock); " +
      "`chorus-mesh` is the whole mesh on the wall clock at the scenario's speedup.",
  )
  .option("--scenario <path>", "scenario JSON file", "sim/scenarios/default.json")
  .option(
    "--strategies <list>",
    `strategies to run (${STRATEGIES.join(", ")})`,
    (raw) => {
      const names = raw.split(",").map((s) => s.trim());
      for (const n of names)
        if (!STRATEGIES.includes(n as StrategyName))
          throw new InvalidArgumentError(`unknown strategy "${n}" (${STRATEGIES})`);
      return names as StrategyName[];
    },
    ["monolith", "monolith-paced", "chorus"] as StrategyName[],
  )
  .option("--seeds <list>", "world seeds: N, N-M or a comma list (default: the scenario's seed)", (raw) => {
    try {
      return parseSeeds(raw);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  })
  .option("--seed <n>", "one world seed (same as --seeds N)", (raw) => {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError("a non-negative integer");
    return n;
  })
  .option("--coordination <mode>", "chorus-mesh: coordination mode of the mesh", "parallel")
  .option("--gateway-url <url>", "chorus-mesh: use this running gateway (needs --nats-url to load the catalog)")
  .option("--nats-url <url>", "chorus-mesh: the running mesh's NATS")
  .option(
    "--lease-ppm <n>",
    "chorus: largest budget lease in millionths of a budget (the mesh's BUDGET_MAX_LEASE_PPM); simulated budgets hold " +
      "only ~100 impressions, so the production 1000 (0.1%) could not cover one: 5% = a few impressions",
    "50000",
  )
  .option(
    "--lookahead-ppm <n>",
    "chorus: pacing lookahead in millionths of a flight (the mesh's BUDGET_LOOKAHEAD_PPM; production 10000): 2% = " +
      "about two impressions of a simulated campaign",
    "20000",
  )
  .option(
    "--impression-window-minutes <n>",
    "chorus: how late (simulated minutes) an impression may be reported and still be charged, and so how long a " +
      "sold ad counts as spend (the ledger's impressionWindowMs). auto: the window an operator sets for the " +
      "scenario's reporting delays, one late report in a million, at least 60 minutes (sim/world/billing-window.ts)",
    "auto",
  )
  .option(
    "--max-candidates <n>",
    "chorus: retrieval's N, the candidates one decision is made on (the gateway's CHORUS_RETRIEVAL_MAX_CANDIDATES)",
  )
  .option("--speedup <n>", "simulated time per Chorus time (overrides the scenario's speedup)")
  .option(
    "--json <path>",
    "where to write the results (rewritten after every run, so a long run keeps what it did)",
    defaultJsonPath("sim"),
  )
  .option(
    "--merge <files>",
    "summarise the runs of earlier result files (comma-separated; e.g. shards of seeds run apart) instead of running",
  )
  .parse()
  .opts<{
    scenario: string;
    strategies: StrategyName[];
    seeds?: number[];
    seed?: number;
    coordination: Coordination;
    gatewayUrl?: string;
    natsUrl?: string;
    leasePpm: string;
    lookaheadPpm: string;
    impressionWindowMinutes: string;
    speedup?: string;
    maxCandidates?: string;
    json: string;
    merge?: string;
  }>();

// --merge summarises earlier files: their scenario (and its billing window) is the one to print, not the default.
const merged = options.merge?.split(",").map((file) => JSON.parse(readFileSync(file.trim(), "utf8")) as MergedFile);
const loaded = merged?.[0]?.scenario ?? loadScenario(options.scenario);
const scenario = parseScenario(
  { ...loaded, ...(options.speedup ? { speedup: Number(options.speedup) } : {}) },
  "command line",
);
const seeds = options.seeds ?? [options.seed ?? scenario.seed];
const windowMinutes = impressionWindowMinutes(options.impressionWindowMinutes, scenario);
const ppm = (raw: string) => Number(raw) / 1e6;
const make = (name: string): Strategy => {
  switch (name as StrategyName) {
    case "monolith":
      return new MonolithStrategy(scenario.publisher.breakEveryMinutes * 60_000);
    case "monolith-paced":
      return new MonolithPacedStrategy();
    case "chorus": {
      const impressionWindowMs = (windowMinutes * 60_000) / scenario.speedup;
      return new VirtualChorusStrategy({
        policy: { maxLeaseShare: ppm(options.leasePpm), lookaheadShare: ppm(options.lookaheadPpm), impressionWindowMs },
        eventLimits: { impressionWindowMs },
        ...(options.maxCandidates ? { maxCandidates: Number(options.maxCandidates) } : {}),
      });
    }
    case "chorus-mesh":
      return new ChorusStrategy({
        coordination: options.coordination,
        gatewayUrl: options.gatewayUrl,
        natsUrl: options.natsUrl,
        env: {
          BUDGET_MAX_LEASE_PPM: options.leasePpm,
          BUDGET_LOOKAHEAD_PPM: options.lookaheadPpm,
          ...(options.maxCandidates ? { CHORUS_RETRIEVAL_MAX_CANDIDATES: options.maxCandidates } : {}),
        },
      });
  }
};

let result: MultiSeedResult;
if (options.merge) {
  const runs: SeedRun[] = merged!.flatMap((file) => file.runs);
  const names = [...new Set(runs.map((r) => r.strategy))];
  options.strategies = STRATEGIES.filter((n) => names.includes(n));
  result = summariseRuns(runs, options.strategies);
} else {
  const bars = new cliProgress.MultiBar(
    {
      format: "{bar} {percentage}% | {status}",
      stream: process.stderr,
      hideCursor: true,
      // Logs and CI have no TTY: print the bar every 5 s there instead of never.
      noTTYOutput: true,
      notTTYSchedule: 5_000,
    },
    cliProgress.Presets.shades_classic,
  );
  const total = seeds.length * options.strategies.length;
  const bar = bars.create(total, 0, { status: "starting" });
  let done = 0;
  const finished: SeedRun[] = [];
  result = await runSeeds(scenario, seeds, options.strategies, {
    make,
    onProgress: (f, seed, strategy) => bar.update(done + f, { status: `seed ${seed} ${strategy}` }),
    onRun: (n, _total, run) => {
      done = n;
      finished.push(run);
      // Written after every run: hours of seeds are not lost to one interrupted run.
      writeJson(options.json, { scenario, options, partial: true, ...summariseRuns(finished, options.strategies) });
      bar.update(n, { status: run.error ? `seed ${run.seed} ${run.strategy} failed` : `seed ${run.seed} done` });
    },
  });
  bars.stop();
}
const seedsRun = result.seeds;

console.log(
  `scenario ${scenario.name}, seeds ${formatSeeds(seedsRun)} (${seedsRun.length}); ${scenario.horizonMinutes} simulated ` +
    `minutes; Chorus clock at ${scenario.speedup}x simulated time; lease ${options.leasePpm} ppm, lookahead ` +
    `${options.lookaheadPpm} ppm, impression window ${windowMinutes} simulated minutes. Mean and ` +
    "95% confidence interval over the seeds:",
);
console.log(formatTable(...metricsTable(result)));
for (const [name, c] of Object.entries(result.comparisons))
  console.log(
    `${name} vs monolith, paired by seed: ROI ${pct(c.roiVsMonolith, true)}, under-delivery ${points(c.underDeliveryVsMonolith)}`,
  );
for (const name of options.strategies) {
  const s = result.strategies[name]!;
  console.log(
    `${name}: ${s.wallSeconds.mean.toFixed(2)} s wall, ${s.cpuSeconds.mean.toFixed(2)} s CPU per run (mean of ` +
      `${s.wallSeconds.n}): ${Math.round((scenario.horizonMinutes * 60) / s.wallSeconds.mean)}x simulated time per wall time` +
      (s.failedRuns ? `, ${s.failedRuns} runs failed` : ""),
  );
}
for (const r of result.runs) if (r.error) console.log(`seed ${r.seed} ${r.strategy} failed: ${r.error}`);
console.log(`\nresults: ${writeJson(options.json, { scenario, options, ...result })}`);

type Row = { metric: string; cells: string[] };
function metricsTable(r: MultiSeedResult): Parameters<typeof formatTable<Row>> {
  const names = options.strategies;
  const keys = Object.keys(r.strategies[names.find((n) => r.strategies[n]!.wallSeconds.n > 0) ?? names[0]!]!.metrics);
  const rows: Row[] = keys.map((k) => ({
    metric: k,
    cells: names.map((n) => {
      const e = r.strategies[n]!.metrics[k];
      return e ? fmt(k, e) : "-";
    }),
  }));
  return [
    [
      { header: "metric", value: (row: Row) => row.metric },
      ...names.map((n, i) => ({ header: n, value: (row: Row) => row.cells[i]!, align: "right" as const })),
    ],
    rows,
  ];
}

function fmt(key: string, e: Estimate): string {
  if (/Share|Rate|underDelivery|worstOverrun/.test(key)) return `${pct(e)}`;
  const digits = Math.abs(e.mean) >= 100 ? 0 : Math.abs(e.mean) >= 10 ? 1 : 3;
  return `${e.mean.toFixed(digits)} ± ${e.halfWidth.toFixed(digits)}`;
}

function pct(e: Estimate, signed = false): string {
  const sign = signed && e.mean > 0 ? "+" : "";
  return `${sign}${(e.mean * 100).toFixed(1)}% ± ${(e.halfWidth * 100).toFixed(1)}`;
}

function points(e: Estimate): string {
  return `${e.mean > 0 ? "+" : ""}${(e.mean * 100).toFixed(1)} ± ${(e.halfWidth * 100).toFixed(1)} points`;
}

function formatSeeds(list: readonly number[]): string {
  const contiguous = list.every((s, i) => i === 0 || s === list[i - 1]! + 1);
  return contiguous && list.length > 1 ? `${list[0]}-${list.at(-1)}` : list.join(",");
}
