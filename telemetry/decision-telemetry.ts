/**
 * The decision engine's one call into telemetry per decision: metrics, then the decision log. Neither waits nor
 * throws, so it can run right before the response is returned.
 *
 *   const telemetry = { metrics: processMetrics(), log: await DecisionLog.open(...) };
 *   ... in decide(), inside startDecideSpan(runId, ...):
 *   recordDecision(telemetry, { decisionId, request, response, coordination, agents, kernel, kernelResult,
 *                               durationUs });
 *   ... and on a thrown decision: recordDecisionError(telemetry, coordination, seconds)
 */
import { trace } from "@opentelemetry/api";
import { DegradedReason, NoFillReason } from "../gen/chorus/v1/decision_pb.ts";
import type { Inventory } from "../lib/catalog/inventory.ts";
import type { KernelInventory, KernelRequest } from "../wasm-core/src/kernel-inputs.ts";
import type { DecisionEntry, DecisionLog } from "./decision-log.ts";
import type { KernelCall } from "./kernel-record.ts";
import type { ChorusMetrics } from "./metrics.ts";

export interface DecisionTelemetry {
  metrics: ChorusMetrics;
  /** Absent when the decision log is off. */
  log?: DecisionLog;
}

const lower = (name: string | undefined) => (name ?? "unknown").toLowerCase();

/** "filled", or the no-fill reason in lower case ("no_eligible_candidate", ...). */
export function decisionOutcome(entry: Pick<DecisionEntry, "response">): string {
  return entry.response.ads.length > 0 ? "filled" : lower(NoFillReason[entry.response.noFillReason]);
}

/** Call inside the decision's span (startDecideSpan): the outcome is also set on that span for trace search. */
export function recordDecision(telemetry: DecisionTelemetry, entry: DecisionEntry): void {
  const { metrics } = telemetry;
  const coordination = entry.coordination;
  const outcome = decisionOutcome(entry);
  trace.getActiveSpan()?.setAttributes({
    "chorus.coordination": coordination,
    "chorus.outcome": outcome,
    "chorus.ads": entry.response.ads.length,
    "chorus.degraded_agents": entry.response.degradedAgents.map((d) => d.agent),
  });
  metrics.decisions.inc({ coordination, outcome });
  if (entry.durationUs !== undefined) metrics.decideLatency.observe({ coordination }, entry.durationUs / 1e6);
  for (const d of entry.response.degradedAgents) {
    metrics.degradedAgents.inc({ agent: d.agent, reason: lower(DegradedReason[d.reason]) });
  }
  for (const a of entry.agents) {
    if (a.latencyUs !== undefined)
      metrics.agentVoteLatency.observe({ agent: a.agent, coordination }, a.latencyUs / 1e6);
  }
  for (const m of entry.moduleVersions ?? entry.response.moduleVersions) metrics.setModuleVersion(m.module, m.version);
  telemetry.log?.append(entry);
}

export function recordDecisionError(telemetry: DecisionTelemetry, coordination: string, seconds: number): void {
  telemetry.metrics.decisions.inc({ coordination, outcome: "error" });
  telemetry.metrics.decideLatency.observe({ coordination }, seconds);
}

const idsByInventory = new WeakMap<
  Inventory,
  { creativeIds: string[]; campaignIds: string[]; advertiserIds: string[] }
>();

/** The log's view of a kernel call made on a catalog Inventory (candidate ids computed once per inventory). */
export function catalogKernelCall(
  inventory: Inventory,
  kernelInventory: KernelInventory,
  request: KernelRequest,
  agents: readonly string[],
): KernelCall {
  let ids = idsByInventory.get(inventory);
  if (!ids) {
    ids = {
      creativeIds: inventory.candidates.map((c) => c.creative.id),
      campaignIds: inventory.candidates.map((c) => c.campaign.id),
      advertiserIds: inventory.candidates.map((c) => c.campaign.advertiserId),
    };
    idsByInventory.set(inventory, ids);
  }
  return { inventory: kernelInventory, request, agents, ...ids };
}
