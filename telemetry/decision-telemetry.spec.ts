import { jetstream } from "@nats-io/jetstream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsFixture, startNats } from "../lib/testing/nats-fixture.ts";
import { DecisionLog, ensureDecisionStore, loadDecisionLogConfig, readDecisionRecord } from "./decision-log.ts";
import { recordDecision, recordDecisionError } from "./decision-telemetry.ts";
import { createChorusMetrics } from "./metrics.ts";
import { sampleDecision } from "./testing/sample-decision.ts";

describe("decision telemetry", () => {
  let nats: NatsFixture;
  beforeAll(async () => {
    // The gateway records decisions, held to its own bus permissions.
    nats = await startNats({
      permissions: "gateway",
      setup: (operator) => ensureDecisionStore(operator, jetstream(operator), loadDecisionLogConfig({})),
    });
  });
  afterAll(() => nats.cleanup());

  it("decision telemetry - one call counts the decision, its latency and degraded agents, and logs it", async () => {
    const metrics = createChorusMetrics();
    const log = await DecisionLog.open(nats.nc, nats.js, {
      config: loadDecisionLogConfig({ CHORUS_PSEUDONYM_SALT: "s", DECISION_LOG_SAMPLE_RATE: "1" }),
      metrics,
      logger: pino({ level: "silent" }),
      gateway: "spec",
    });
    const entry = await sampleDecision({ seed: 31, degradedAgent: "timing" });
    recordDecision({ metrics, log }, entry);
    recordDecisionError({ metrics, log }, "parallel", 0.2);
    await log.flush();
    const text = await metrics.registry.metrics();
    expect(text).toContain('chorus_decisions_total{coordination="parallel",outcome="filled"} 1');
    expect(text).toContain('chorus_decisions_total{coordination="parallel",outcome="error"} 1');
    expect(text).toContain('chorus_decide_duration_seconds_count{coordination="parallel"} 2');
    expect(text).toContain('chorus_degraded_agents_total{agent="timing",reason="timeout"} 1');
    expect(text).toContain('chorus_agent_vote_duration_seconds_count{agent="bidding",coordination="parallel"} 1');
    expect(text).toContain('chorus_module_version_info{module="kernel",version="builtin"} 1');
    expect((await readDecisionRecord(nats.nc, entry.decisionId)).agents.find((a) => a.degraded)?.agent).toBe("timing");
  });
});
