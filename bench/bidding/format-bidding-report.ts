import type { BiddingBenchmarkReport, StrategyResult } from "./run-bidding-benchmark.ts";

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat("en-US", {
  style: "percent",
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});

const COLUMNS: Array<[header: string, cell: (s: StrategyResult) => string]> = [
  ["strategy", (s) => strategyLabel(s)],
  ["clicks", (s) => (Number.isInteger(s.clicks) ? integer.format(s.clicks) : decimal.format(s.clicks))],
  ["published", (s) => (s.published ? integer.format(s.published.clicks) : "")],
  ["impressions", (s) => integer.format(s.impressions)],
  ["cost", (s) => integer.format(s.cost)],
  ["win rate", (s) => percent.format(s.winRate)],
  ["CPM", (s) => decimal.format(s.cpm)],
  ["eCPC", (s) => (s.ecpc === null ? "-" : decimal.format(s.ecpc))],
  ["budget use", (s) => percent.format(s.budgetUse)],
];

function strategyLabel(s: StrategyResult): string {
  if (s.strategy === "Mcpc") return "Mcpc";
  if (s.strategy === "Chorus")
    return s.parameters.seeds === 1
      ? `Chorus bidder (seed ${s.parameters.seed})`
      : `Chorus bidder (mean of ${s.parameters.seeds} seeds)`;
  return `${s.strategy} b0=${s.parameters.b0}`;
}

/** The benchmark as text tables, one per budget fraction, then the checks. */
export function formatBiddingReport(report: BiddingBenchmarkReport): string {
  const { protocol, dataset } = report;
  const lines = [
    `iPinYou campaign 2997: ${integer.format(dataset.auctions)} auctions, ${dataset.clicks} clicks; ` +
      `episodes of N = ${integer.format(protocol.episodeSize)}, bid <= ${protocol.maxBid} and <= budget left`,
    "cost, CPM and eCPC in the log's price unit (CPM in fen); budget use = mean spend / B over full episodes",
    "",
  ];
  for (const result of report.results) {
    lines.push(`c0 = ${result.label}   B = ${integer.format(result.episodeBudget)} per episode`);
    const rows = [
      COLUMNS.map(([header]) => header),
      ...result.strategies.map((s) => COLUMNS.map(([, cell]) => cell(s))),
    ];
    const widths = COLUMNS.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
    for (const row of rows)
      lines.push(
        `  ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")}`,
      );
    const chorus = result.strategies.find((s) => s.strategy === "Chorus");
    if (chorus?.clicksBySeed && chorus.clicksBySeed.length > 1) {
      const clicks = chorus.clicksBySeed;
      lines.push(
        `  Chorus clicks with seeds ${chorus.parameters.seed}..${chorus.parameters.seed! + clicks.length - 1}: ` +
          `${clicks.join(", ")} (min ${Math.min(...clicks)}, max ${Math.max(...clicks)})`,
      );
    }
    const others = Object.entries(result.publishedOthers);
    if (others.length > 0)
      lines.push(`  published, not run here: ${others.map(([name, f]) => `${name} ${f.clicks}`).join(", ")} clicks`);
    lines.push("");
  }
  lines.push(
    "Lin b0 is tuned on a synthetic log drawn from the training price histogram with every pCTR at the training",
    "average CTR; 'Lin (hindsight)' uses the b0 that is best on the test log itself: a reference, not a baseline.",
    "",
  );
  const check = report.harnessCheck;
  if (check)
    lines.push(
      check.mcpcMatchesPublished
        ? "harness check: Mcpc reproduces the published Mcpc figures exactly"
        : `harness check FAILED: ${check.mismatches.join("; ")}`,
    );
  const { targets } = report;
  lines.push("targets are judged on the Chorus run with the fewest clicks:");
  lines.push(
    `target: Chorus > Lin at every budget fraction: ${targets.chorusBeatsLinAtEveryBudget ? "met" : "MISSED"}`,
  );
  if (targets.chorusAtLeastRlbAtOneThirtySecond !== null)
    lines.push(
      `target: Chorus >= 78 clicks (RLB) at c0 = 1/32: ${targets.chorusAtLeastRlbAtOneThirtySecond ? "met" : "MISSED"}`,
    );
  return lines.join("\n");
}
