import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SingleBar } from "cli-progress";
import { Command, InvalidArgumentError } from "commander";
import { DatasetMissingError, IPINYOU_2997, loadIpinyouDataset } from "./auction-log.ts";
import { formatBiddingReport } from "./format-bidding-report.ts";
import { parseBudgetFraction } from "./published-results.ts";
import { runBiddingBenchmark } from "./run-bidding-benchmark.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function positiveInteger(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be an integer >= 1");
  return n;
}

function budgetFractions(text: string): number[] {
  try {
    return text.split(",").map(parseBudgetFraction);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

const program = new Command("bench:bidding")
  .description(
    "Replay the iPinYou campaign 2997 auction log under the standard RTB protocol: Mcpc, Lin and the Chorus " +
      "Bidding agent's logic per budget fraction, compared with the published results.",
  )
  .option(
    "--c0 <fractions>",
    "budget fractions, comma-separated",
    budgetFractions,
    budgetFractions("1/32,1/16,1/8,1/4,1/2"),
  )
  .option("--episode-size <n>", "auctions per episode (N)", positiveInteger, 1000)
  .option("--max-bid <price>", "highest bid, in the log's price unit", positiveInteger, 300)
  .option("--seed <n>", "seed of the Chorus bidder's exploration", (t) => positiveInteger(t), 1)
  .option(
    "--seeds <n>",
    "Chorus runs with seeds seed, seed + 1, ...: means and the clicks of each are reported",
    positiveInteger,
    5,
  )
  .option("--no-hindsight", "skip the Lin reference tuned on the test log")
  .option("--data <dir>", "data set directory", path.resolve(repoRoot, IPINYOU_2997.relativeDir))
  .option("--out <file>", "JSON results", path.join(repoRoot, "bench-results", "bidding.json"))
  .option("--no-progress", "no progress bar (there is none anyway when stderr is not a terminal)")
  .parse();

const options = program.opts<{
  c0: number[];
  episodeSize: number;
  maxBid: number;
  seed: number;
  seeds: number;
  hindsight: boolean;
  data: string;
  out: string;
  progress: boolean;
}>();

let dataset: ReturnType<typeof loadIpinyouDataset>;
try {
  dataset = loadIpinyouDataset(path.resolve(options.data));
} catch (error) {
  if (!(error instanceof DatasetMissingError)) throw error;
  console.error(`bench:bidding: ${error.message}`);
  process.exit(2);
}
if (dataset.sha256 !== IPINYOU_2997.sha256)
  console.error(`bench:bidding: warning: ${IPINYOU_2997.logFile} sha256 ${dataset.sha256} is not the documented one`);

const bar =
  options.progress && process.stderr.isTTY
    ? new SingleBar({ stream: process.stderr, format: "{bar} {percentage}% | {stage}", hideCursor: true })
    : undefined;
bar?.start(1000, 0, { stage: "" });
const report = runBiddingBenchmark(dataset, {
  budgetFractions: options.c0,
  episodeSize: options.episodeSize,
  maxBid: options.maxBid,
  seed: options.seed,
  seeds: options.seeds,
  hindsightLin: options.hindsight,
  onProgress: bar ? (done, stage) => bar.update(Math.round(done * 1000), { stage }) : undefined,
});
bar?.stop();

console.log(formatBiddingReport(report));
mkdirSync(path.dirname(options.out), { recursive: true });
writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nresults: ${path.relative(process.cwd(), options.out) || options.out}`);
if (report.harnessCheck && !report.harnessCheck.mcpcMatchesPublished) process.exit(1);
