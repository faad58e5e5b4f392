import { describe, expect, it } from "vitest";
import { type SimMetrics, simMetrics } from "../metrics.ts";
import { runSeeds } from "../multi-seed.ts";
import { parseScenario } from "../world/scenario.ts";
import { runWorld } from "../world/world.ts";
import { VirtualChorusStrategy } from "./chorus-virtual.ts";
import { MonolithStrategy } from "./monolith.ts";
import { MonolithPacedStrategy } from "./monolith-paced.ts";

/** A small market: a few seconds per run, enough breaks for every part of the pipeline to act. */
const small = parseScenario({
  name: "small",
  horizonMinutes: 60,
  listeners: { count: 150, sessionsPerListener: 1.5 },
  market: { advertisers: 4, campaignsPerAdvertiser: 2, budgetTightness: 0.3 },
  events: { minDelayMs: 20_000, meanExtraDelayMs: 60_000 },
});
const policy = { maxLeaseShare: 0.05, lookaheadShare: 0.02 };

/** Metrics that depend on the decisions, not on how fast this machine ran them. */
function outcomeOf(m: SimMetrics) {
  const { decisionP50Ms: _p50, decisionP99Ms: _p99, maxWallLagMs: _lag, ...rest } = m;
  return rest;
}

describe("virtual-time chorus", () => {
  it("sim - Chorus's decision logic in virtual time sells within leases, learns, never overspends, and replays exactly per seed", async () => {
    const run = async (seed: number) => {
      const strategy = new VirtualChorusStrategy({ policy });
      await strategy.launch();
      try {
        const outcome = await runWorld({ ...small, seed }, strategy);
        return { metrics: simMetrics(outcome), diagnostics: strategy.diagnostics() };
      } finally {
        await strategy.stop();
      }
    };
    // Another seed's world in between: nothing of one run (catalog, learned state, caches) may leak into the next.
    const a = await run(5);
    const c = await run(6);
    const b = await run(5);
    expect(outcomeOf(a.metrics)).toEqual(outcomeOf(b.metrics));
    expect(outcomeOf(c.metrics)).not.toEqual(outcomeOf(a.metrics));
    for (const { metrics, diagnostics } of [a, c]) {
      expect(metrics.decisionErrors).toBe(0);
      expect(metrics.impressions).toBeGreaterThan(50);
      expect(metrics.campaignsOverBudget).toBe(0);
      // Timing keeps breaks out of tracks; events reach the ledger and every handler takes its messages.
      expect(metrics.midTrackShare).toBeLessThan(0.05);
      expect(diagnostics.handlerErrors).toBe(0);
      expect(diagnostics.eventsRejected).toBe(0);
    }
  }, 180_000);

  it("sim - over seeds, every strategy's metrics carry a mean and a 95% interval, and comparisons pair seeds", async () => {
    const result = await runSeeds(small, [1, 2], ["monolith", "monolith-paced", "chorus"], {
      make: (name) =>
        name === "monolith"
          ? new MonolithStrategy(small.publisher.breakEveryMinutes * 60_000)
          : name === "monolith-paced"
            ? new MonolithPacedStrategy()
            : new VirtualChorusStrategy({ policy }),
    });
    expect(result.runs.filter((r) => r.error)).toEqual([]);
    for (const name of ["monolith", "monolith-paced", "chorus"]) {
      const roi = result.strategies[name]!.metrics.advertiserRoi!;
      expect(roi.n).toBe(2);
      expect(roi.values).toEqual(result.runs.filter((r) => r.strategy === name).map((r) => r.metrics!.advertiserRoi));
      expect(roi.ci95[0]).toBeLessThanOrEqual(roi.mean);
      expect(roi.ci95[1]).toBeGreaterThanOrEqual(roi.mean);
      expect(Object.keys(result.strategies[name]!.metrics)).toEqual(
        expect.arrayContaining(["underDelivery", "campaignsOverBudget", "midTrackShare", "leaveAfterAdRate"]),
      );
    }
    // The paced baseline never sells past a budget: it counts its sales at once.
    expect(result.strategies["monolith-paced"]!.metrics.campaignsOverBudget!.mean).toBe(0);
    const paired = result.comparisons.chorus!.roiVsMonolith;
    expect(paired.n).toBe(2);
    const perSeed = [1, 2].map((seed) => {
      const of = (s: string) => result.runs.find((r) => r.seed === seed && r.strategy === s)!.metrics!.advertiserRoi;
      return of("chorus") / of("monolith") - 1;
    });
    expect(paired.values).toEqual(perSeed);
  }, 180_000);
});
