import { Command } from "commander";
import { LossReasons } from "./loss-reasons.ts";
import { simMetrics } from "./metrics.ts";
import { VirtualChorusStrategy } from "./strategies/chorus-virtual.ts";
import { impressionWindowMinutes } from "./world/billing-window.ts";
import { loadScenario, parseScenario } from "./world/scenario.ts";
import { runWorld } from "./world/world.ts";

/**
 * Why Chorus's campaigns did not sell the breaks they were candidates for, one seed of a scenario in virtual time
 * (sim/loss-reasons.ts), beside each campaign's under-delivery: `npm run sim:losses -- --scenario FILE --seed N`.
 * The same settings as `npm run sim`'s chorus strategy.
 */
const options = new Command("sim-losses")
  .option("--scenario <path>", "scenario JSON file", "sim/scenarios/default.json")
  .option("--seed <n>", "world seed", "1")
  .option("--lease-ppm <n>", "as npm run sim", "50000")
  .option("--lookahead-ppm <n>", "as npm run sim", "20000")
  .option("--impression-window-minutes <n>", "as npm run sim", "auto")
  .parse()
  .opts<{ scenario: string; seed: string; leasePpm: string; lookaheadPpm: string; impressionWindowMinutes: string }>();

const scenario = parseScenario(loadScenario(options.scenario), options.scenario);
const impressionWindowMs =
  (impressionWindowMinutes(options.impressionWindowMinutes, scenario) * 60_000) / scenario.speedup;
const losses = new LossReasons();
const strategy = new VirtualChorusStrategy({
  policy: {
    maxLeaseShare: Number(options.leasePpm) / 1e6,
    lookaheadShare: Number(options.lookaheadPpm) / 1e6,
    impressionWindowMs,
  },
  eventLimits: { impressionWindowMs },
  observe: losses.observe,
});
await strategy.launch();
try {
  const outcome = await runWorld({ ...scenario, seed: Number(options.seed) }, strategy);
  const m = simMetrics(outcome);
  const causes = Object.keys(losses.totals).sort((a, b) => losses.totals[b]! - losses.totals[a]!);
  console.log(
    `seed ${options.seed}: under-delivery ${(m.underDelivery * 100).toFixed(1)}%, ROI ${m.advertiserRoi.toFixed(2)}, ` +
      `${losses.auctions} auctions, ${losses.heldBack} held back by Timing`,
  );
  console.log(["campaign", "budget", "under", "imps", ...causes].join("\t"));
  console.log(
    ["all", "", (m.underDelivery * 100).toFixed(1), m.impressions, ...causes.map((c) => losses.totals[c])].join("\t"),
  );
  for (const [id, books] of outcome.ledger.all()) {
    const under = Math.max(0, 1 - Number(books.billableMicros) / Number(books.budgetMicros));
    const row = losses.byCampaign.get(id) ?? {};
    console.log(
      [
        id,
        Number(books.budgetMicros) / 1e6,
        (under * 100).toFixed(1),
        books.impressions,
        ...causes.map((c) => row[c] ?? 0),
      ].join("\t"),
    );
  }
} finally {
  await strategy.stop();
}
