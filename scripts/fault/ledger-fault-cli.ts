import { mkdirSync, writeFileSync } from "node:fs";
import { Command } from "commander";
import { runLedgerFault } from "../../launch/ledger-fault.ts";

/**
 * npm run fault:ledger -- --events 200000
 * The ledger durability proof at scale: prints the figures and writes bench-results/ledger-fault.json.
 */
const program = new Command()
  .name("fault:ledger")
  .option("--events <n>", "impressions to confirm, over all drivers", "20000")
  .option("--drivers <n>", "gateway driver processes", "2")
  .option("--chaos-ms <ms>", "one kill -9 every this many ms", "3000")
  .option("--kills <n>", "instead: exactly n kills spread evenly over the run's progress")
  .parse();
const opts = program.opts<{ events: string; drivers: string; chaosMs: string; kills?: string }>();
const drivers = Number(opts.drivers);
const figures = await runLedgerFault({
  eventsPerDriver: Math.ceil(Number(opts.events) / drivers),
  drivers,
  chaosEveryMs: Number(opts.chaosMs),
  kills: opts.kills === undefined ? undefined : Number(opts.kills),
  onProgress: (line) => console.error(`[fault] ${line}`),
});
const rows: [string, string][] = [
  ["events sent (incl. repeats)", String(figures.eventsSent)],
  ["events confirmed stored", String(figures.eventsConfirmed)],
  ["events never confirmed", String(figures.eventsUnconfirmed)],
  ["unique impressions (expected)", String(figures.uniqueImpressions)],
  ["ledger impressions", figures.ledgerImpressions.toString()],
  ["expected spend (micros)", figures.expectedSpendMicros.toString()],
  ["ledger spend (micros)", figures.ledgerSpendMicros.toString()],
  ["rebuilt spend (micros)", figures.rebuiltSpendMicros.toString()],
  ["events stream messages", String(figures.streamMessages)],
  ["ledger at / stream at sequence", `${figures.ledgerLastSequence} / ${figures.streamLastSequence}`],
  [
    "kill -9",
    Object.entries(figures.kills)
      .map(([k, v]) => `${k} x${v}`)
      .join(", "),
  ],
  [
    "restarted after exiting",
    Object.entries(figures.crashes)
      .map(([k, v]) => `${k} x${v}`)
      .join(", ") || "none",
  ],
  ["every campaign exact", figures.campaignsEqual ? "yes" : "NO"],
  ["seconds", figures.seconds.toFixed(1)],
];
for (const [k, v] of rows) console.log(`${k.padEnd(32)} ${v}`);
mkdirSync("bench-results", { recursive: true });
writeFileSync(
  "bench-results/ledger-fault.json",
  JSON.stringify(figures, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2),
);
process.exit(figures.campaignsEqual && figures.ledgerSpendMicros === figures.expectedSpendMicros ? 0 : 1);
