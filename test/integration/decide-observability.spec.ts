import { toBinary } from "@bufbuild/protobuf";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningAgent } from "../../agents/runtime/run-agent.ts";
import { type AgentMeshFixture, startAgentMesh } from "../../agents/testing/agent-mesh-fixture.ts";
import { runExplain } from "../../cli/commands/explain.ts";
import { type ClosableDecisionEngine, createDecisionEngine } from "../../gateway/decide/decision-engine.ts";
import { DecisionKeepReason, DecisionRecordSchema } from "../../gen/chorus/v1/decision_log_pb.ts";
import { DegradedReason } from "../../gen/chorus/v1/decision_pb.ts";
import type { CatalogView } from "../../lib/catalog/catalog-view.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import { createLogger } from "../../lib/log/logger.ts";
import type { NatsFixture } from "../../lib/testing/nats-fixture.ts";
import { DecisionLog, loadDecisionLogConfig, readDecisionRecord } from "../../telemetry/decision-log.ts";
import { explainRecord } from "../../telemetry/explain.ts";
import { builtinKernel } from "../../telemetry/kernel-source.ts";
import { createChorusMetrics } from "../../telemetry/metrics.ts";
import { replayDecision } from "../../telemetry/replay.ts";
import { AGENT_ATTRIBUTE, RUN_ID_ATTRIBUTE, setupTracing, type Tracing } from "../../telemetry/tracing.ts";
import type { KernelPool } from "../../wasm-core/src/mod.ts";

const logger = createLogger("observability-spec", "warn");

/** The real decision engine, real agents over NATS, the real WASM kernel, with telemetry wired in. */
describe("observability - one Decide through the real engine and agents", () => {
  let nats: NatsFixture;
  let view: CatalogView;
  let kernel: KernelPool;
  let agents: RunningAgent[];
  let fixture: AgentMeshFixture;
  let engine: ClosableDecisionEngine;
  let log: DecisionLog;
  let tracing: Tracing;
  const exporter = new InMemorySpanExporter();
  const metrics = createChorusMetrics();

  beforeAll(async () => {
    tracing = setupTracing({ serviceName: "observability-spec", exporter });
    fixture = await startAgentMesh({ logger, kernelVersion: "builtin" });
    ({ nats, view, kernel, agents } = fixture);
    log = await DecisionLog.open(nats.nc, nats.js, {
      config: loadDecisionLogConfig({ CHORUS_PSEUDONYM_SALT: "spec", DECISION_LOG_SAMPLE_RATE: "1" }),
      metrics,
      logger,
      gateway: "spec-gateway",
    });
    engine = await createDecisionEngine({
      nc: nats.nc,
      catalogView: view,
      kernel,
      coordination: "parallel",
      // Generous: on a loaded test machine agents must still answer in time (degradation is tested by stopping one).
      deadlineMs: 2_000,
      logger,
      telemetry: { metrics, log },
    });
  }, 20_000);

  afterAll(async () => {
    engine?.close();
    await fixture?.cleanup();
    await tracing?.shutdown();
  });

  it("observability - a real decision replays bit for bit and its record holds no raw user id", async () => {
    const request = demoRequest({ explain: false });
    const response = await engine.decide(request, {});
    expect(response.ads.length).toBeGreaterThan(0);
    await log.flush();
    const record = await readDecisionRecord(nats.nc, response.decisionId);
    const replay = replayDecision(record, builtinKernel());
    expect(replay.differences).toEqual([]);
    expect(replay.reproduced).toBe(true);
    const chosen = Array.from(replay.replayed.indices, (c) => record.kernelInputs!.creativeIds[c]);
    expect(chosen).toEqual(response.ads.map((a) => a.creativeId));
    expect(Buffer.from(toBinary(DecisionRecordSchema, record)).includes(request.user!.userId)).toBe(false);
  });

  it("observability - the trace of one Decide has a span from each agent that took part, with the run id", async () => {
    exporter.reset();
    const response = await engine.decide(demoRequest(), {});
    await tracing.flush();
    const spans = exporter.getFinishedSpans();
    const decide = spans.find(
      (s) => s.name === "chorus.decide" && s.attributes[RUN_ID_ATTRIBUTE] === response.decisionId,
    );
    expect(decide).toBeDefined();
    expect(response.ads.length).toBeGreaterThan(0);
    expect(decide!.attributes["chorus.outcome"]).toBe("filled");
    expect(decide!.attributes["chorus.ads"]).toBe(response.ads.length);
    const traceId = decide!.spanContext().traceId;
    const agentSpans = spans.filter((s) => s.kind === SpanKind.CONSUMER && s.spanContext().traceId === traceId);
    const voted = response.moduleVersions.map((m) => m.module).filter((m) => m !== "kernel");
    expect(agentSpans.map((s) => s.attributes[AGENT_ATTRIBUTE]).sort()).toEqual([...voted].sort());
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    for (const span of agentSpans) {
      expect(span.attributes[RUN_ID_ATTRIBUTE]).toBe(response.decisionId);
      // agent span -> the gateway's send span -> the decide span
      const send = byId.get(span.parentSpanContext!.spanId)!;
      expect(send.kind).toBe(SpanKind.PRODUCER);
      expect(send.parentSpanContext?.spanId).toBe(decide!.spanContext().spanId);
    }
  });

  it("explain - Decide's explanation and `chorus explain` of the same decision agree, candidate by candidate", async () => {
    const response = await engine.decide(demoRequest({ explain: true }), {});
    const api = response.explanation!;
    expect(response.ads.length).toBeGreaterThan(0);
    await log.flush();
    const record = await readDecisionRecord(nats.nc, response.decisionId);
    // The same builder on the logged record (what the CLI prints from) gives the same message, field by field
    // (but the advertiser ids, which the gateway fills from its catalog for role cuts and the record does not keep).
    const fromLog = explainRecord(record)!.explanation;
    expect(api.candidates.every((c) => c.advertiserId !== "")).toBe(true);
    const withoutAdvertisers = { ...api, candidates: api.candidates.map((c) => ({ ...c, advertiserId: "" })) };
    expect(fromLog).toEqual(withoutAdvertisers);
    expect(api.candidates.length).toBe(record.kernelInputs!.candidates);
    // Candidates in inventory order; the chosen ones are the pod.
    expect(api.candidates.filter((c) => c.chosen).map((c) => c.creativeId)).toEqual(
      response.ads
        .map((a) => a.creativeId)
        .sort(
          (x, y) =>
            api.candidates.findIndex((c) => c.creativeId === x) - api.candidates.findIndex((c) => c.creativeId === y),
        ),
    );
    // The CLI's words: the summary and every candidate's verdict, as the API gave them.
    const lines: string[] = [];
    await runExplain(response.decisionId, { natsUrl: nats.server.url, all: true }, (l) => lines.push(l));
    expect(lines).toContain(`Summary: ${api.summary}`);
    for (const c of api.candidates) {
      const line = c.vetoes.length
        ? `  ${c.creativeId} (campaign ${c.campaignId}): ${c.vetoes.join("; ")}`
        : `${c.chosen ? "WON " : "lost"} ${c.creativeId} (campaign ${c.campaignId}): ${c.summary}`;
      expect(lines).toContain(line);
    }
  });

  it("observability - a decision made while an agent was down is explained as degraded", async () => {
    await agents.find((a) => a.module.name === "creative")!.stop();
    const response = await engine.decide(demoRequest({ explain: false }), {});
    const creative = response.degradedAgents.find((d) => d.agent === "creative");
    expect(creative?.reason).toBe(DegradedReason.UNAVAILABLE);
    await log.flush();
    const record = await readDecisionRecord(nats.nc, response.decisionId);
    expect(record.keepReason).toBe(DecisionKeepReason.DEGRADED);
    const lines: string[] = [];
    await runExplain(response.decisionId, { natsUrl: nats.server.url }, (l) => lines.push(l));
    const text = lines.join("\n");
    expect(text).toMatch(
      /creative was degraded \(unavailable\): used (its last cached signal|a neutral vote) at weight/,
    );
    expect(text).toMatch(/\+ creative +weight .* \[degraded\]/);
    const degradedCount = (await metrics.degradedAgents.get()).values.find((v) => v.labels.agent === "creative");
    expect(degradedCount?.value).toBeGreaterThanOrEqual(1);
  });
});
