import cliProgress from "cli-progress";
import { Command, InvalidArgumentError } from "commander";
import { defaultJsonPath, formatTable, writeJson } from "../bench/lib/report-table.ts";
import type { Coordination } from "../launch/mesh.ts";
import { type SimMetrics, simMetrics } from "./metrics.ts";
import { ChorusStrategy } from "./strategies/chorus.ts";
import { MonolithStrategy } from "./strategies/monolith.ts";
import { loadScenario, parseScenario } from "./world/scenario.ts";
import type { Strategy } from "./world/strategy.ts";
import { runWorld } from "./world/world.ts";

const STRATEGIES = ["monolith", "chorus"] as const;
type StrategyName = (typeof STRATEGIES)[number];

const options = new Command("sim")
  .description("Market simulator: the same seeded world under each strategy, compared.")
  .option("--scenario <path>", "scenario JSON file", "sim/scenarios/default.json")
  .option(
    "--strategies <list>",
    "strategies to run",
    (raw) => {
      const names = raw.split(",").map((s) => s.trim());
      for (const n of names)
        if (!STRATEGIES.includes(n as StrategyName))
          throw new InvalidArgumentError(`unknown strategy "${n}" (${STRATEGIES})`);
      return names as StrategyName[];
    },
    [...STRATEGIES],
  )
  .option("--coordination <mode>", "chorus: coordination mode of the mesh", "parallel")
  .option("--gateway-url <url>", "chorus: use this running gateway (needs --nats-url to load the catalog)")
  .option("--nats-url <url>", "chorus: the running mesh's NATS")
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
  .option("--speedup <n>", "chorus: simulated time per wall time (overrides the scenario's speedup)")
  .option("--seed <n>", "world seed (overrides the scenario's seed): another market, population and traffic", (raw) => {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError("a non-negative integer");
    return n;
  })
  .option("--json <path>", "where to write the results", defaultJsonPath("sim"))
  .parse()
  .opts<{
    scenario: string;
    strategies: StrategyName[];
    coordination: Coordination;
    gatewayUrl?: string;
    natsUrl?: string;
    leasePpm: string;
    lookaheadPpm: string;
    speedup?: string;
    seed?: number;
    json: string;
  }>();

const loaded = loadScenario(options.scenario);
const scenario = parseScenario(
  {
    ...loaded,
    ...(options.speedup ? { speedup: Number(options.speedup) } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  },
  "command line",
);
const make = (name: StrategyName): Strategy =>
  name === "monolith"
    ? new MonolithStrategy(scenario.publisher.breakEveryMinutes * 60_000)
    : new ChorusStrategy({
        coordination: options.coordination,
        gatewayUrl: options.gatewayUrl,
        natsUrl: options.natsUrl,
        env: { BUDGET_MAX_LEASE_PPM: options.leasePpm, BUDGET_LOOKAHEAD_PPM: options.lookaheadPpm },
      });

const bars = new cliProgress.MultiBar(
  {
    format: "{name} {bar} {percentage}% | {status}",
    stream: process.stderr,
    hideCursor: true,
    // Logs and CI have no TTY: print the bars every 5 s there instead of never.
    noTTYOutput: true,
    notTTYSchedule: 5_000,
  },
  cliProgress.Presets.shades_classic,
);
const results: {
  strategy: StrategyName;
  metrics?: SimMetrics;
  /** Per-campaign books and flight (simulated ms), to see which campaigns under- or over-delivered. */
  campaigns?: object[];
  error?: string;
  wallSeconds: number;
}[] = [];
for (const name of options.strategies) {
  const label = name.padEnd(8);
  const bar = bars.create(100, 0, { name: label, status: "starting" });
  const strategy = make(name);
  const started = performance.now();
  try {
    bar.update({ name: label, status: "launching" });
    await strategy.launch();
    const outcome = await runWorld(scenario, strategy, {
      onProgress: (f) => bar.update(Math.round(f * 100), { name: label, status: "simulating" }),
    });
    bar.update(100, { name: label, status: "done" });
    results.push({
      strategy: name,
      metrics: simMetrics(outcome),
      campaigns: [...outcome.ledger.all()].map(([id, books]) => ({ id, ...books, ...outcome.market.flights.get(id) })),
      wallSeconds: (performance.now() - started) / 1000,
    });
  } catch (err) {
    bar.update({ name: label, status: `failed: ${(err as Error).message.split("\n")[0]}` });
    results.push({ strategy: name, error: (err as Error).message, wallSeconds: (performance.now() - started) / 1000 });
  } finally {
    await strategy.stop().catch(() => undefined);
  }
}
bars.stop();

type Row = { metric: string; values: (string | number)[] };
const fmt = (key: keyof SimMetrics, v: SimMetrics[keyof SimMetrics]) =>
  typeof v !== "number"
    ? v
    : /Share|Rate|underDelivery|worstOverrun/.test(key)
      ? `${(v * 100).toFixed(1)}%`
      : Number.isInteger(v)
        ? v
        : v.toFixed(3);
const keys = Object.keys(results.find((r) => r.metrics)?.metrics ?? {}) as (keyof SimMetrics)[];
const rows: Row[] = keys.map((k) => ({
  metric: k,
  values: results.map((r) => (r.metrics ? fmt(k, r.metrics[k]) : "-")),
}));
console.log(
  `scenario ${scenario.name} (seed ${scenario.seed}, ${scenario.horizonMinutes} simulated minutes; chorus at ` +
    `${scenario.speedup}x real time, ${options.coordination}, lease ${options.leasePpm} ppm, lookahead ` +
    `${options.lookaheadPpm} ppm)`,
);
console.log(
  formatTable<Row>(
    [
      { header: "metric", value: (r) => r.metric },
      ...results.map((res, i) => ({ header: res.strategy, value: (r: Row) => r.values[i]!, align: "right" as const })),
    ],
    rows,
  ),
);
for (const r of results) {
  if (r.error) console.log(`${r.strategy} failed: ${r.error}`);
  else console.log(`${r.strategy}: ${r.wallSeconds.toFixed(0)} s wall, ${r.metrics!.decisions} decide calls`);
}
console.log(`\nresults: ${writeJson(options.json, { scenario, options, results })}`);
