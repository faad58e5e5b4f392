import { describe, expect, it } from "vitest";
import { startGatewayFixture } from "../../gateway/testing/gateway-fixture.ts";
import { subjects } from "../../lib/subjects.ts";
import { parseScenario } from "../world/scenario.ts";
import { runWorld } from "../world/world.ts";
import { ChorusStrategy } from "./chorus.ts";

/**
 * The chorus strategy's plumbing against a real gateway over real NATS (the protocol test engine decides, so
 * this checks the wiring, not the decisions): catalog into JetStream KV, Decide, playback and late events over
 * gRPC, in realtime with a fast clock.
 */
describe("chorus strategy", () => {
  it("chorus strategy - runs a world through a real gateway: catalog, decisions, playback and late events", async () => {
    const fixture = await startGatewayFixture();
    const playback = fixture.nats.nc.subscribe(subjects.playbackAll);
    let signals = 0;
    void (async () => {
      for await (const _ of playback) signals++;
    })();
    const strategy = new ChorusStrategy({
      coordination: "parallel",
      gatewayUrl: fixture.gateway.url,
      natsUrl: fixture.nats.server.url,
      apiKey: fixture.keys.decide,
      // This checks the wiring, not latency: a decision starved past a player's 2 s on a loaded CI box is no error.
      decideTimeoutMs: 20_000,
    });
    try {
      const scenario = parseScenario({
        seed: 3,
        horizonMinutes: 30,
        speedup: 1800,
        listeners: { count: 40, sessionsPerListener: 1 },
        publisher: { breakEveryMinutes: 4 },
        market: { advertisers: 2, campaignsPerAdvertiser: 1, competingCpmMedianMicros: 1 },
        events: { minDelayMs: 5_000, meanExtraDelayMs: 5_000 },
      });
      await strategy.launch();
      const outcome = await runWorld(scenario, strategy, { startupMs: 1_000 });
      await strategy.stop();
      expect(await fixture.store.find("campaign", "sim-cmp-0-0")).toBeDefined();
      expect(outcome.decisionLatency.totalCount).toBeGreaterThan(0);
      expect([...strategy.decideErrorSamples]).toEqual([]);
      expect(outcome.decisionErrors).toBe(0);
      expect(outcome.eventsDelivered).toBe(outcome.eventsGenerated);
      expect(fixture.events.seen.size).toBe(outcome.eventsGenerated);
      expect([...strategy.reportErrorSamples]).toEqual([]);
      expect(strategy.reportErrors).toBe(0);
      await fixture.nats.nc.flush();
      expect(signals).toBeGreaterThan(outcome.sessions);
    } finally {
      playback.unsubscribe();
      await fixture.cleanup();
    }
  });
});
