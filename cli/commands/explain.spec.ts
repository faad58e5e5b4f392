import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NoFillReason } from "../../gen/chorus/v1/decision_pb.ts";
import { type NatsFixture, startNats } from "../../lib/testing/nats-fixture.ts";
import { DecisionLog, loadDecisionLogConfig, readDecisionRecord } from "../../telemetry/decision-log.ts";
import { callTerms, explainDecision, explainRecord } from "../../telemetry/explain.ts";
import { builtinKernel } from "../../telemetry/kernel-source.ts";
import { createChorusMetrics } from "../../telemetry/metrics.ts";
import { replayDecision } from "../../telemetry/replay.ts";
import { sampleDecision } from "../../telemetry/testing/sample-decision.ts";
import { loadKernel } from "../../wasm-core/src/mod.ts";
import { runExplain } from "./explain.ts";

const bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0];

describe("explain", () => {
  let nats: NatsFixture;
  let log: DecisionLog;

  beforeAll(async () => {
    nats = await startNats();
    log = await DecisionLog.open(nats.nc, nats.js, {
      config: loadDecisionLogConfig({ CHORUS_PSEUDONYM_SALT: "s", DECISION_LOG_SAMPLE_RATE: "1" }),
      metrics: createChorusMetrics(),
      logger: pino({ level: "silent" }),
      gateway: "spec",
    });
  });
  afterAll(() => nats.cleanup());

  it("explain - a decision made while an agent was down is explained as degraded", async () => {
    const entry = await sampleDecision({ seed: 21, degradedAgent: "bidding" });
    log.append(entry);
    await log.flush();
    const lines: string[] = [];
    await runExplain(entry.decisionId, { natsUrl: nats.server.url }, (l) => lines.push(l));
    const text = lines.join("\n");
    expect(text).toContain("bidding was degraded (timeout): used a neutral vote at weight 0.1");
    expect(text).toMatch(/\+ bidding +weight 0\.1 x confidence 0\.5 x score 0\.5 = 0\.025 +\[degraded\]/);
    const explained = explainRecord(await readDecisionRecord(nats.nc, entry.decisionId))!;
    expect(explained.explanation.summary).toMatch(/bidding was degraded/);
  });

  it("explain - winners carry the kernel's numbers and price, losers say why with the vetoing agent", async () => {
    const entry = await sampleDecision({ seed: 22, explain: true });
    const { explanation, lines } = explainDecision({
      kernel: entry.kernel,
      result: entry.kernelResult!,
      agents: entry.agents,
      ads: entry.response.ads,
    });
    const result = entry.kernelResult!;
    const chosen = explanation.candidates.filter((c) => c.chosen).map((c) => c.creativeId);
    const pod = Array.from(result.indices, (c) => entry.kernel.creativeIds[c]!);
    expect(chosen).toEqual([...pod].sort());
    expect(explanation.summary).toContain(`chose ${pod.join(", ")} out of 10`);
    for (const [t, c] of Array.from(result.indices).entries()) {
      const e = explanation.candidates[c]!;
      expect(bits(e.quality)).toBe(bits(result.qualities[t]!));
      expect(e.priceMicros).toBe(entry.response.ads[t]!.priceMicros);
      expect(e.summary).toMatch(new RegExp(`^won position ${t + 1}: .* pays ${e.priceMicros} micros \\(`));
    }
    expect(explanation.candidates[2]!.vetoes).toEqual([
      "relevance: frequency cap (frequency cap: 3 impressions in 3600 s)",
    ]);
    expect(explanation.candidates[5]!.summary).toBe(
      "vetoed: budget: budget throttled (campaign camp-1 throttled: pacing ahead)",
    );
    const losers = explanation.candidates.filter((c) => !c.chosen && c.vetoes.length === 0);
    expect(losers.length).toBeGreaterThan(0);
    for (const l of losers) expect(l.summary).toMatch(/^lost: (ranked \d+ of \d+ eligible; |its )/);
    expect(lines[0]).toMatch(/^Summary: chose .* out of 10 candidates \(2 vetoed\)/);
    // Compact form: winners and one loser in full, the other losers one line each, vetoes counted per reason.
    const compact = explainDecision({ kernel: entry.kernel, result, agents: entry.agents, ads: entry.response.ads }, 1);
    const full = compact.lines.filter((l) => /^(WON |lost) /.test(l) && !l.includes("; rank "));
    expect(full).toHaveLength(result.count + 1);
    expect(compact.lines.slice(-3)).toEqual([
      "Vetoed (2):",
      "  1 x relevance: frequency cap",
      "  1 x budget: budget throttled",
    ]);
  });

  it("explain - recomputed candidate terms equal the kernel's bit for bit", async () => {
    // Every candidate through the kernel: no vetoes, room for all, so the kernel reports each one's terms.
    const entry = await sampleDecision({ seed: 23 });
    const n = entry.kernel.inventory.candidates;
    const request = {
      ...entry.kernel.request,
      vetoMask: new Uint32Array(n),
      maxAds: 16,
      maxDurationMs: 10_000_000,
      reservePrice: 0,
    };
    const instance = loadKernel(builtinKernel().bytes, { maxCandidates: n, maxDimensions: 8, maxAgents: 6 });
    instance.setInventory(entry.kernel.inventory);
    const result = instance.decide(request, "builtin");
    const call = { ...entry.kernel, request };
    let compared = 0;
    const all = callTerms(call);
    for (let t = 0; t < result.count; t++) {
      const terms = all[result.indices[t]!]!;
      expect(bits(terms.relevance)).toBe(bits(result.relevances[t]!));
      expect(bits(terms.quality)).toBe(bits(result.qualities[t]!));
      expect(bits(terms.rank)).toBe(bits(result.ranks[t]!));
      compared++;
    }
    expect(compared).toBeGreaterThan(1);
  });

  it("explain - a decision that never reached the kernel says so, and replay refuses it by name", async () => {
    const entry = await sampleDecision({ seed: 24, degradedAgent: "timing" });
    entry.response.ads = [];
    entry.response.noFillReason = NoFillReason.NOT_A_GOOD_MOMENT;
    log.append({ ...entry, kernel: undefined, kernelResult: undefined });
    await log.flush();
    const lines: string[] = [];
    await runExplain(entry.decisionId, { natsUrl: nats.server.url }, (l) => lines.push(l));
    expect(lines).toContain("The kernel did not run (no fill: not a good moment).");
    expect(lines).toContain("timing was degraded (timeout): used a neutral vote at weight 0.1");
    const record = await readDecisionRecord(nats.nc, entry.decisionId);
    expect(() => replayDecision(record, builtinKernel())).toThrow(
      `decision ${entry.decisionId} never reached the kernel: nothing to replay`,
    );
  });
});
