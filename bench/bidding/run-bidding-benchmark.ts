import { createSeededRandom } from "../../voting/bidding/seeded-random.ts";
import type { IpinyouDataset } from "./auction-log.ts";
import { linearStrategy, mcpcStrategy } from "./baseline-strategies.ts";
import { chorusStrategy } from "./chorus-strategy.ts";
import { budgetFractionLabel, PUBLISHED_EPISODE_SIZE, PUBLISHED_RESULTS } from "./published-results.ts";
import { type BiddingStrategy, episodeBudget, type ReplayResult, replayEpisodes } from "./replay-episodes.ts";
import { expectedClicks, realClicks, synthesizeTrainingLog, tuneLinearBid } from "./tune-linear-bid.ts";

export interface BenchmarkOptions {
  budgetFractions: number[];
  episodeSize: number;
  maxBid: number;
  /** First seed of the Chorus bidder's exploration; `seeds` runs use seed, seed + 1, ... */
  seed: number;
  seeds: number;
  /** Also replay Lin with the b0 that is best on the test log itself (a reference, not a baseline). */
  hindsightLin: boolean;
  /** Called with the fraction of the work done, in [0, 1], and what is running. */
  onProgress?: (done: number, stage: string) => void;
}

export type StrategyName = "Mcpc" | "Lin" | "Lin (hindsight)" | "Chorus";

export interface StrategyResult {
  strategy: StrategyName;
  /** How its parameters were obtained. */
  tunedOn: string;
  parameters: Record<string, number>;
  auctions: number;
  episodes: number;
  clicks: number;
  expectedClicks: number;
  impressions: number;
  cost: number;
  winRate: number;
  /** Average price paid per impression (cost / impressions), in the log's CPM unit. */
  cpm: number;
  /** Cost per click; null without clicks. */
  ecpc: number | null;
  /** Mean over full episodes of spend / B. */
  budgetUse: number;
  /** Chorus: clicks of the run with each seed; the other figures are means over these runs. */
  clicksBySeed?: number[];
  /** The published figure for this strategy at this budget, when there is one. */
  published?: { clicks: number; impressions?: number; cost?: number };
}

export interface BudgetResult {
  c0: number;
  label: string;
  episodeBudget: number;
  strategies: StrategyResult[];
  /** Published strategies that this harness does not run (RLB, SS-MDP), for comparison. */
  publishedOthers: Record<string, { clicks: number; impressions?: number; cost?: number }>;
}

export interface BiddingBenchmarkReport {
  dataset: { dir: string; auctions: number; clicks: number; sha256: string };
  protocol: { episodeSize: number; maxBid: number; seed: number; seeds: number };
  results: BudgetResult[];
  /** Mcpc against the published Mcpc: checks the harness. null when the protocol differs from the published one. */
  harnessCheck: { mcpcMatchesPublished: boolean; mismatches: string[] } | null;
  /** Judged on the Chorus run with the fewest clicks, over all seeds. */
  targets: { chorusBeatsLinAtEveryBudget: boolean; chorusAtLeastRlbAtOneThirtySecond: boolean | null };
}

const SYNTHETIC_TRAINING_SEED = 2997;

export function runBiddingBenchmark(dataset: IpinyouDataset, options: BenchmarkOptions): BiddingBenchmarkReport {
  const { training, log } = dataset;
  const { episodeSize, maxBid } = options;
  const stagesPerBudget = 2 + (options.hindsightLin ? 1 : 0) + options.seeds;
  const totalStages = stagesPerBudget * options.budgetFractions.length;
  let stagesDone = 0;
  const progress = (stage: string, fraction = 0) =>
    options.onProgress?.(Math.min(1, (stagesDone + fraction) / totalStages), stage);
  // Lin is tuned on a synthetic log as long as the training period, made from training statistics only.
  const syntheticTraining = synthesizeTrainingLog(
    training,
    training.impressions,
    createSeededRandom(SYNTHETIC_TRAINING_SEED),
  );

  const results = options.budgetFractions.map((c0): BudgetResult => {
    const label = budgetFractionLabel(c0);
    const budget = episodeBudget(training.cost, training.impressions, c0, episodeSize);
    const protocol = { episodeSize, episodeBudget: budget, maxBid };
    const published = episodeSize === PUBLISHED_EPISODE_SIZE ? (PUBLISHED_RESULTS[label] ?? {}) : {};
    const replay = (strategy: BiddingStrategy, stage: string) => {
      progress(stage);
      const result = replayEpisodes(log, strategy, {
        ...protocol,
        onProgress: (done) => progress(stage, done / log.prices.length),
      });
      stagesDone++;
      return result;
    };
    const strategies: StrategyResult[] = [];
    const add = (strategy: StrategyName, tunedOn: string, parameters: Record<string, number>, r: ReplayResult) =>
      strategies.push({ strategy, tunedOn, parameters, ...summarize(r), published: published[strategy] });

    add(
      "Mcpc",
      "training eCPC",
      { ecpc: training.cost / training.clicks },
      replay(mcpcStrategy(training), `${label} Mcpc`),
    );

    progress(`${label} Lin: tuning b0 on training statistics`);
    const lin = tuneLinearBid(training, syntheticTraining, protocol, expectedClicks);
    add(
      "Lin",
      "synthetic log from the training price histogram and average CTR",
      { b0: lin.b0 },
      replay(linearStrategy(training, lin.b0), `${label} Lin`),
    );

    if (options.hindsightLin) {
      progress(`${label} Lin: best b0 on the test log`);
      const hindsight = tuneLinearBid(training, log, protocol, realClicks);
      add(
        "Lin (hindsight)",
        "the test log itself (reference only: not a fair baseline)",
        { b0: hindsight.b0 },
        replayEpisodes(log, linearStrategy(training, hindsight.b0), protocol),
      );
      stagesDone++;
    }

    const chorusRuns = Array.from({ length: options.seeds }, (_, i) => {
      const seed = options.seed + i;
      return replay(chorusStrategy(training, { maxBid, seed }), `${label} Chorus seed ${seed}`);
    });
    add(
      "Chorus",
      "training eCPC and price histogram; learns online",
      { seed: options.seed, seeds: options.seeds },
      averageRuns(chorusRuns),
    );
    strategies[strategies.length - 1]!.clicksBySeed = chorusRuns.map((r) => r.clicks);

    const publishedOthers = Object.fromEntries(
      Object.entries(published).filter(([name]) => !strategies.some((s) => s.strategy === name)),
    );
    return { c0, label, episodeBudget: budget, strategies, publishedOthers };
  });
  options.onProgress?.(1, "done");

  return {
    dataset: {
      dir: dataset.dir,
      auctions: log.prices.length,
      clicks: log.clicks.reduce((a, b) => a + b, 0),
      sha256: dataset.sha256,
    },
    protocol: { episodeSize, maxBid, seed: options.seed, seeds: options.seeds },
    results,
    harnessCheck: checkHarness(results, episodeSize),
    targets: checkTargets(results, episodeSize),
  };
}

/** The mean of replays of the same log (only exploration differs): counts averaged, budget use over all episodes. */
function averageRuns(runs: ReplayResult[]): ReplayResult {
  const mean = (key: "clicks" | "expectedClicks" | "impressions" | "cost") =>
    runs.reduce((sum, r) => sum + r[key], 0) / runs.length;
  return {
    auctions: runs[0]!.auctions,
    episodes: runs[0]!.episodes,
    clicks: mean("clicks"),
    expectedClicks: mean("expectedClicks"),
    impressions: mean("impressions"),
    cost: mean("cost"),
    budgetUse: runs.flatMap((r) => r.budgetUse),
  };
}

function summarize(r: ReplayResult) {
  return {
    auctions: r.auctions,
    episodes: r.episodes,
    clicks: r.clicks,
    expectedClicks: r.expectedClicks,
    impressions: r.impressions,
    cost: r.cost,
    winRate: r.auctions > 0 ? r.impressions / r.auctions : 0,
    cpm: r.impressions > 0 ? r.cost / r.impressions : 0,
    ecpc: r.clicks > 0 ? r.cost / r.clicks : null,
    budgetUse: r.budgetUse.length > 0 ? r.budgetUse.reduce((a, b) => a + b, 0) / r.budgetUse.length : 0,
  };
}

function checkHarness(results: BudgetResult[], episodeSize: number): BiddingBenchmarkReport["harnessCheck"] {
  if (episodeSize !== PUBLISHED_EPISODE_SIZE) return null;
  const mismatches: string[] = [];
  let compared = 0;
  for (const { label, strategies } of results) {
    const mcpc = strategies.find((s) => s.strategy === "Mcpc");
    if (!mcpc?.published) continue;
    compared++;
    for (const key of ["clicks", "impressions", "cost"] as const) {
      const expected = mcpc.published[key];
      if (expected !== undefined && expected !== mcpc[key])
        mismatches.push(`${label}: Mcpc ${key} ${mcpc[key]}, published ${expected}`);
    }
  }
  return compared === 0 ? null : { mcpcMatchesPublished: mismatches.length === 0, mismatches };
}

function checkTargets(results: BudgetResult[], episodeSize: number): BiddingBenchmarkReport["targets"] {
  const clicksOf = (r: BudgetResult, name: StrategyName) => {
    const s = r.strategies.find((s) => s.strategy === name);
    return s ? Math.min(s.clicks, ...(s.clicksBySeed ?? [])) : 0;
  };
  const oneThirtySecond = episodeSize === PUBLISHED_EPISODE_SIZE ? results.find((r) => r.label === "1/32") : undefined;
  return {
    chorusBeatsLinAtEveryBudget: results.every((r) => clicksOf(r, "Chorus") > clicksOf(r, "Lin")),
    chorusAtLeastRlbAtOneThirtySecond: oneThirtySecond
      ? clicksOf(oneThirtySecond, "Chorus") >= PUBLISHED_RESULTS["1/32"]!.RLB!.clicks
      : null,
  };
}
