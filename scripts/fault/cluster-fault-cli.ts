import { mkdirSync, writeFileSync } from "node:fs";
import { Command } from "commander";
import { runClusterFault } from "../../launch/cluster-fault.ts";

/**
 * npm run fault:cluster [-- --minutes 5 | --quick]
 * The chaos run on a three-node NATS cluster: prints the figures and the kill table, writes
 * bench-results/cluster-fault.json, and exits 1 unless the run was exact and within its bounds.
 */
const program = new Command()
  .name("fault:cluster")
  .option("--minutes <n>", "how long load and kills run", "5")
  .option("--quick", "about 60 s of load and kills (what npm test runs)")
  .option("--rate <n>", "Decide calls per second", "20")
  .option("--kill-every <s>", "one kill -9 this often, in seconds")
  .option("--seed <n>", "seed of the kill order and the load", "17")
  .option("--log-dir <dir>", "append each process's warnings and errors to <dir>/<name>.log")
  .parse();
const opts = program.opts<{
  minutes: string;
  quick?: boolean;
  rate: string;
  killEvery?: string;
  seed: string;
  logDir?: string;
}>();
if (opts.logDir) mkdirSync(opts.logDir, { recursive: true });
const durationMs = opts.quick ? 60_000 : Number(opts.minutes) * 60_000;
const figures = await runClusterFault({
  durationMs,
  rate: Number(opts.rate),
  killEveryMs: opts.killEvery ? Number(opts.killEvery) * 1000 : opts.quick ? 10_000 : 20_000,
  seed: Number(opts.seed),
  logDir: opts.logDir,
  onProgress: (line) => console.error(`[chaos] ${line}`),
});
const micros = (m: bigint) => `${m.toLocaleString("en-US")} µ`;
const rows: [string, string][] = [
  ["Decide calls", String(figures.decides)],
  [
    "Decide success (retry once on the other gateway)",
    `${(figures.decideSuccessRate * 100).toFixed(3)}% (${figures.decideSuccess}; first-try failures ${figures.decideFirstTryFailures})`,
  ],
  ["decisions with ads", String(figures.filled)],
  ["events sent (impressions, completions, repeats)", String(figures.eventsSent)],
  [
    "events accepted / duplicate / rejected / unconfirmed",
    `${figures.eventsAccepted} / ${figures.eventsDuplicate} / ${figures.eventsRejected} / ${figures.eventsUnconfirmed}`,
  ],
  ["unique impressions accepted / in the ledger", `${figures.uniqueImpressions} / ${figures.ledgerImpressions}`],
  [
    "spend: expected / ledger / rebuilt from stream",
    `${micros(figures.expectedSpendMicros)} / ${micros(figures.ledgerSpendMicros)} / ${micros(figures.rebuiltSpendMicros)}`,
  ],
  ["receipts left in the gateways' spools (unbilled sales)", String(figures.receiptsLeftInSpools)],
  ["exact", figures.exact ? "yes" : "NO"],
  [
    "permission violations logged by the servers",
    `${figures.permissionViolations}${figures.permissionViolationSamples.length ? ` (${figures.permissionViolationSamples.join("; ")})` : ""}`,
  ],
  [
    "largest overspend / bound (one lease per gateway)",
    `${micros(figures.largestOverspendMicros)} / ${micros(figures.largestOverspendBoundMicros)}`,
  ],
  [
    "campaigns over budget",
    `${figures.campaigns.filter((c) => c.overspendMicros > 0n).length} of ${figures.campaigns.length} (${figures.campaigns.filter((c) => c.ledgerMicros >= c.budgetMicros - c.boundMicros / 2n).length} spent out)`,
  ],
  ["within bounds", figures.withinBounds ? "yes" : "NO"],
  ["grants with an older epoch in the lease log", String(figures.staleLeaseEpochsSeen)],
  [
    "processes that exited by themselves (restarted)",
    Object.entries(figures.restartsAfterExit)
      .map(([k, v]) => `${k} x${v}`)
      .join(", ") || "none",
  ],
  ["seconds (load ran for)", `${figures.seconds.toFixed(1)} (${figures.loadSeconds.toFixed(1)})`],
  [
    "machine load per core during the load (median / max)",
    `${figures.loadPerCore.median.toFixed(1)} / ${figures.loadPerCore.max.toFixed(1)}`,
  ],
];
for (const [k, v] of rows) console.log(`${k.padEnd(54)} ${v}`);
for (const [message, n] of Object.entries(figures.decideErrors)) console.log(`  Decide error x${n}: ${message}`);
for (const [answer, n] of Object.entries(figures.eventsUnconfirmedAnswers))
  console.log(`  event never confirmed x${n}, last answer: ${answer}`);
// Leader kills: the successor's election write, its first answer (Budget: a lease request; ledger: a query),
// and for the Budget its first grant with the new epoch (which needs demand).
const s = (x: number | undefined) => (x === undefined ? "-" : x.toFixed(1));
console.log(
  "\n| # | at (s) | killed | recovered after (s) | by | leader elected (s) | Budget serving (s) | first new-epoch grant (s) | Decide failures in the next 10 s |",
);
console.log("|---|---|---|---|---|---|---|---|---|");
for (const [i, k] of figures.kills.entries())
  console.log(
    `| ${i + 1} | ${k.atS.toFixed(1)} | ${k.victim}: ${k.detail} | ${k.recoveryS?.toFixed(1) ?? "not seen"} | ${k.recoveredBy} | ${s(k.electedS)} | ${s(k.readyS)} | ${s(k.firstGrantS)} | ${k.decideFailuresAfter} |`,
  );
mkdirSync("bench-results", { recursive: true });
writeFileSync(
  "bench-results/cluster-fault.json",
  JSON.stringify(figures, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2),
);
const ok =
  figures.exact && figures.withinBounds && figures.decideSuccessRate >= 0.999 && figures.permissionViolations === 0;
process.exit(ok ? 0 : 1);
