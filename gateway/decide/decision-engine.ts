import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { agentLoaders, loadAgents } from "../../agents/registry.ts";
import type { AnyAgentModule } from "../../agents/runtime/agent-module.ts";
import { applyVoteScoring } from "../../agents/runtime/agent-scorer.ts";
import { AgentStateStore, openAgentStateBucket } from "../../agents/runtime/agent-state-store.ts";
import { SignalMirror } from "../../agents/runtime/signal-mirror.ts";
import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import {
  type DecideRequest,
  type DecideResponse,
  DecideResponseSchema,
  ExplanationSchema,
  type ModuleVersion,
  ModuleVersionSchema,
  NoFillReason,
} from "../../gen/chorus/v1/decision_pb.ts";
import type { CatalogView } from "../../lib/catalog/catalog-view.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { subjects, VOTING_AGENTS } from "../../lib/subjects.ts";
import {
  catalogKernelCall,
  type DecisionTelemetry,
  recordDecision,
  recordDecisionError,
} from "../../telemetry/decision-telemetry.ts";
import { startDecideSpan } from "../../telemetry/tracing.ts";
import type { KernelResult } from "../../wasm-core/src/kernel-inputs.ts";
import type { DecisionEngine, SpendGuard, SpendItem } from "../ports.ts";
import { buildKernelRequest } from "./build-kernel-request.ts";
import { DeferredBatch } from "./deferred-batch.ts";
import { encodeAuctionOutcome } from "./encode-auction-outcome.ts";
import { type Kernel, toKernelInventory } from "./kernel-port.ts";
import { auctionEntries, explainCandidates, podAds, rankedLosers, winners } from "./pod-response.ts";
import { type Coordination, gatherVotes } from "./vote-gatherer.ts";

export type { Coordination } from "./vote-gatherer.ts";

export interface DecisionEngineOptions {
  nc: NatsConnection;
  catalogView: CatalogView;
  kernel: Kernel;
  /** cached: vote locally on the agents' published signals; parallel: ask all at once; sequential: one by one. */
  coordination: Coordination;
  /** Campaigns without headroom are vetoed before the kernel; the pod's spend is committed after it. */
  spendGuard?: SpendGuard;
  /** Default time budget of a decision when the request gives none. */
  deadlineMs: number;
  logger: Logger;
  /** Agent modules (default: every registered agent). */
  modules?: readonly AnyAgentModule[];
  /** `cached`: an agent whose signals are older than this is degraded (default 5 s: five missed heartbeats). */
  staleAfterMs?: number;
  /** Share of the deadline given to the agents; the rest is for the kernel and the response (default 0.7). */
  agentShare?: number;
  /** Metrics and decision log (telemetry/decision-telemetry.ts); every decision also runs in a `chorus.decide` span. */
  telemetry?: DecisionTelemetry;
}

export interface ClosableDecisionEngine extends DecisionEngine {
  readonly coordination: Coordination;
  close(): void;
}

/**
 * The decide pipeline: candidates from the live inventory, one vote per agent (coordination mode, fallbacks,
 * degraded list), the orchestrator's weights, the WASM kernel, the spend guard, then the response and an
 * AuctionOutcome for the learning agents. Opens a SignalMirror per agent (all modes: it is the fallback).
 */
export async function createDecisionEngine(options: DecisionEngineOptions): Promise<ClosableDecisionEngine> {
  const { nc, catalogView, kernel, coordination, spendGuard, logger } = options;
  const modules = options.modules ?? (await loadAgents(Object.keys(agentLoaders)));
  const store = new AgentStateStore(await openAgentStateBucket(jetstream(nc)), logger, "gateway:state");
  const mirrors = await Promise.all(
    modules.map((m) => SignalMirror.open(nc, m, { store, logger, consumer: "gateway:mirror" })),
  );
  const agents = VOTING_AGENTS.filter((a) => modules.some((m) => m.name === a));
  let kernelInventory = -1;
  const syncKernel = () => {
    const inventory = catalogView.inventory;
    if (inventory.version !== kernelInventory) {
      kernel.setInventory(toKernelInventory(inventory));
      kernelInventory = inventory.version;
    }
    return inventory;
  };
  syncKernel();
  const stopWatching = catalogView.onChange(() => syncKernel());
  const staleAfterMs = options.staleAfterMs ?? 5_000;
  const outcomes = new DeferredBatch();
  // A handful of (module, version) pairs, the same in every response: one message each, shared (read-only).
  const moduleVersions = new Map<string, ModuleVersion>();
  const moduleVersion = (module: string, version: string) => {
    const key = `${module}@${version}`;
    let m = moduleVersions.get(key);
    if (!m) {
      m = create(ModuleVersionSchema, { module, version });
      moduleVersions.set(key, m);
    }
    return m;
  };
  const agentShare = options.agentShare ?? 0.7;

  /** One decision in its trace span (the run id tags it and every agent span), counted and logged. */
  function decide(request: DecideRequest, signal?: AbortSignal): Promise<DecideResponse> {
    // Load shedding: a request whose client already gave up (deadline passed while it queued) is not worth a
    // decision; deciding it anyway is how an overloaded server stays overloaded.
    if (signal?.aborted)
      return Promise.reject(new ConnectError("deadline passed before the decision started", Code.DeadlineExceeded));
    const decisionId = randomUUID();
    const t0 = performance.now();
    return startDecideSpan(decisionId, () => decideOnce(request, decisionId, t0)).catch((err: unknown) => {
      if (options.telemetry) recordDecisionError(options.telemetry, coordination, (performance.now() - t0) / 1000);
      throw err;
    });
  }

  async function decideOnce(request: DecideRequest, decisionId: string, t0: number): Promise<DecideResponse> {
    const placement = request.placement;
    if (!placement) throw new ConnectError("placement: value is required", Code.InvalidArgument);
    if (!request.user?.userId) throw new ConnectError("user.user_id: value is required", Code.InvalidArgument);
    const started = Date.now();
    const inventory = syncKernel();
    const deadlineMs = request.deadlineMs || options.deadlineMs;
    const ctx = { runId: decisionId, request, inventory, nowMs: started, priorVotes: [] };
    const { votes, degraded } = await gatherVotes(ctx, BigInt(inventory.version), {
      nc,
      mirrors,
      coordination,
      deadlineAtMs: started + deadlineMs * agentShare,
      staleAfterMs,
      logger,
    });
    applyVoteScoring(votes, degraded);
    const degradedNames = new Set(degraded.map((d) => d.agent));
    const inputs = buildKernelRequest(inventory, request, votes, agents, degradedNames, spendGuard, request.explain);
    for (const d of degraded) {
      const a = agents.indexOf(d.agent as (typeof agents)[number]);
      d.weight = a >= 0 ? inputs.request.weights[a]! : 0;
    }
    const response = create(DecideResponseSchema, {
      decisionId,
      degradedAgents: degraded,
      coordination,
      moduleVersions: [...votes.values()].map((v) => moduleVersion(v.agent, v.moduleVersion)),
    });
    const observe = (kernelResult?: KernelResult) => {
      if (!options.telemetry) return;
      recordDecision(options.telemetry, {
        decisionId,
        request,
        response,
        coordination,
        agents: [...votes].map(([agent, vote]) => ({ agent, vote, degraded: degraded.find((d) => d.agent === agent) })),
        kernel:
          kernelResult && catalogKernelCall(inventory, toKernelInventory(inventory), inputs.request, inputs.agents),
        kernelResult,
        durationUs: Math.round((performance.now() - t0) * 1000),
      });
    };
    const timing = votes.get("timing")?.timing;
    if (timing && !timing.breakNow && !placement.forceNow) {
      response.noFillReason = NoFillReason.NOT_A_GOOD_MOMENT;
      response.nextBreakOffsetMs = timing.insertionOffsetMs;
      if (request.explain) response.explanation = create(ExplanationSchema, { summary: `timing: ${timing.reason}` });
      observe();
      return response;
    }
    const result = await kernel.decide(inputs.request, decisionId).catch((err: unknown) => {
      throw new ConnectError(`kernel: ${(err as Error).message}`, Code.Unavailable, undefined, undefined, err);
    });
    response.moduleVersions.push(moduleVersion("kernel", result.moduleVersion));
    let chosen = winners(result, agents.length);
    if (spendGuard && chosen.length > 0) {
      const items: SpendItem[] = chosen.map((w) => ({
        campaignId: inventory.candidates[w.index]!.campaign.id,
        creativeId: inventory.candidates[w.index]!.creative.id,
        priceMicros: w.priceMicros,
      }));
      const accepted = new Set(
        (await spendGuard.commit(decisionId, items, { userId: request.user?.userId })).map((i) => i.creativeId),
      );
      chosen = chosen.filter((w) => accepted.has(inventory.candidates[w.index]!.creative.id));
      if (chosen.length === 0) response.noFillReason = NoFillReason.NO_BUDGET_LEASE;
    }
    const formats = votes.get("creative")?.formats ?? [];
    response.ads = podAds(inventory, chosen, formats, timing?.insertionOffsetMs ?? 0);
    if (result.count === 0) {
      const belowReserve = rankedLosers(inputs, inventory, [], 1).length > 0;
      response.noFillReason = belowReserve ? NoFillReason.BELOW_RESERVE : NoFillReason.NO_ELIGIBLE_CANDIDATE;
    }
    if (request.explain) {
      response.explanation = create(ExplanationSchema, {
        candidates: explainCandidates(inputs, inventory, chosen),
        summary: `${chosen.length} ads from ${result.eligibleCount} eligible of ${inventory.size} (${result.vetoedCount} vetoed); ${coordination} coordination${degraded.length ? `, degraded: ${[...degradedNames].join(", ")}` : ""}`,
      });
    }
    outcomes.push(() => publishOutcome(decisionId, request, inventory, started, inputs, chosen, degradedNames));
    observe(result);
    return response;
  }

  function publishOutcome(
    decisionId: string,
    request: DecideRequest,
    inventory: Inventory,
    at: number,
    inputs: ReturnType<typeof buildKernelRequest>,
    chosen: ReturnType<typeof winners>,
    degraded: ReadonlySet<string>,
  ): void {
    try {
      const outcome = create(AuctionOutcomeSchema, {
        decisionId,
        request,
        inventoryVersion: BigInt(inventory.version),
        decidedAt: timestampFromMs(at),
        reservePriceMicros: request.placement?.floorPriceMicros ?? 0n,
        entries: auctionEntries(inputs, inventory, chosen),
        agents: [...agents],
        degradedAgents: [...degraded],
        coordination,
      });
      nc.publish(subjects.auctionOutcome(request.user!.userId), encodeAuctionOutcome(outcome));
    } catch (err) {
      // Learning loses one example; the response is unaffected.
      logger.warn({ err, decisionId }, "auction outcome not published");
    }
  }

  return {
    coordination,
    decide: (request, { signal }) => decide(request, signal),
    close() {
      stopWatching();
      outcomes.flush();
      for (const m of mirrors) m.close();
    },
  };
}
