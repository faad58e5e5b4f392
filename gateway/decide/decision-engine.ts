import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { DecideRequest, DecideResponse } from "../../gen/chorus/v1/decision_pb.ts";
import type { SpendGuard } from "../../ledger/ports.ts";
import type { CatalogView } from "../../lib/catalog/catalog-view.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { LoopLag } from "../../lib/process/loop-lag.ts";
import { VOTING_AGENTS } from "../../lib/subjects.ts";
import {
  catalogKernelCall,
  type DecisionTelemetry,
  recordDecision,
  recordDecisionError,
} from "../../telemetry/decision-telemetry.ts";
import { startDecideSpan } from "../../telemetry/tracing.ts";
import type { AnyAgentModule } from "../../voting/contract/agent-module.ts";
import { AgentStateStore, openAgentStateBucket } from "../../voting/mirror/agent-state-store.ts";
import { SignalMirror } from "../../voting/mirror/signal-mirror.ts";
import { agentLoaders, loadAgents } from "../../voting/registry/agent-loaders.ts";
import { DEFAULT_RESIDENT_INVENTORIES } from "../../wasm-core/src/resident-inventories.ts";
import type { Cancellation, DecisionEngine } from "../server/ports.ts";
import { type Auctioned, auctionOutcome, decidePod, moduleVersionCache } from "./decide-pod.ts";
import { DeferredBatch } from "./deferred-batch.ts";
import { type Kernel, residentInventories, toKernelInventory } from "./kernel-port.ts";
import { OutcomeBatcher } from "./outcome-batcher.ts";
import { DEFAULT_MAX_CANDIDATES, type RetrievalOptions, Retriever } from "./retrieval.ts";
import { type Coordination, gatherVotes } from "./vote-gatherer.ts";

export type { Coordination } from "./vote-gatherer.ts";

/** Enough for about 1,000 decisions/s at 100 ms each; beyond that a gateway on two cores only queues. */
export const DEFAULT_MAX_IN_FLIGHT = 128;

/**
 * The retrieval slices a kernel must keep resident for `maxInFlight` decisions: a decision re-adds its slice unless
 * it was added within the last half of the resident set, then may wait in the kernel's queue while every other
 * decision in flight adds one. Fewer, and an overloaded gateway evicted slices of queued decisions, which then
 * failed ("inventory ... is not resident": 70-90 decisions/s at twice capacity).
 */
export function residentInventoriesFor(maxInFlight: number): number {
  return Math.max(DEFAULT_RESIDENT_INVENTORIES, 2 * maxInFlight);
}

/**
 * The gateway's event-loop lag past which new decisions are refused while the loop stays that far behind: ten times
 * Decide's default time budget (a request read that late has missed it). One longer stall alone sheds nothing
 * below four times this (LoopLag.behindMs): the soak met full-collection stalls of 0.5-1.3 s at a quarter load.
 */
export const DEFAULT_MAX_LOOP_LAG_MS = 500;
/**
 * Decisions still admitted in one late stretch of the loop: a late loop alone may be one scheduling hiccup of a
 * busy machine (a request then is served); a backlog is many requests read in the same late stretch.
 */
const LATE_ADMITS = 16;

/**
 * The refusal of an overloaded gateway: RESOURCE_EXHAUSTED (gRPC clients do not retry it blindly) with when to come
 * back: `grpc-retry-pushback-ms` (gRPC's retry pushback) and `retry-after` (HTTP, seconds).
 */
function overloaded(why: string, retryAfterMs: number): ConnectError {
  return new ConnectError(
    `overloaded: ${why}; retry after ${retryAfterMs} ms`,
    Code.ResourceExhausted,
    new Headers({
      "grpc-retry-pushback-ms": String(retryAfterMs),
      "retry-after": String(Math.ceil(retryAfterMs / 1000)),
    }),
  );
}

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
  /** Admission limit: decisions in flight past which new ones are refused at once (RESOURCE_EXHAUSTED). */
  maxInFlight?: number;
  /**
   * Load shedding by event-loop lag (lib/process/loop-lag.ts, `behindMs`): while this process's loop stays more
   * than this many ms behind, new decisions are refused at once (RESOURCE_EXHAUSTED). Default 0 (off) for an engine
   * built in process; the gateway process uses DEFAULT_MAX_LOOP_LAG_MS (GATEWAY_MAX_LOOP_LAG_MS).
   */
  maxLoopLagMs?: number;
  /**
   * The retrieval stage (retrieval.ts): the most candidates one decision sees (default 1,024). `false`: every
   * decision sees the whole catalog (comparisons only; a catalog beyond the kernel's capacity then cannot decide).
   */
  retrieval?: Omit<RetrievalOptions, "mayServe"> | false;
}

export interface ClosableDecisionEngine extends DecisionEngine {
  readonly coordination: Coordination;
  /** Retrieval slices taken from its cache, built, and checked again (undefined without retrieval). */
  readonly retrievalStats: Readonly<Retriever["stats"]> | undefined;
  /** Erasure: drops the listeners (bus pseudonyms) from every agent mirror; returns the `<agent>.<key>`s changed. */
  forgetListeners(pseudonyms: ReadonlySet<string>): string[];
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
  const retriever =
    options.retrieval === false
      ? undefined
      : new Retriever({
          maxCandidates: DEFAULT_MAX_CANDIDATES,
          ...options.retrieval,
          mayServe: spendGuard && ((campaignId) => spendGuard.headroom(campaignId) > 0n),
        });
  // Inventories (the catalog's retrieval slices) made resident in the kernel before they are used. Throws for an
  // inventory beyond the kernel's capacity: that decision fails, never the process.
  const residentLimit = kernel.residentLimit ?? DEFAULT_RESIDENT_INVENTORIES;
  const ensureResident = residentInventories(kernel, residentLimit);
  const staleAfterMs = options.staleAfterMs ?? 5_000;
  const outcomes = new DeferredBatch();
  const outcomeBatch = new OutcomeBatcher(nc, logger);
  // A handful of (module, version) pairs, the same in every response: one message each, shared (read-only).
  const moduleVersion = moduleVersionCache();
  const agentShare = options.agentShare ?? 0.7;
  // Never more decisions in flight than the kernel keeps slices for (residentInventoriesFor).
  const configuredInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const maxInFlight = Math.min(configuredInFlight, Math.floor(residentLimit / 2));
  if (maxInFlight < configuredInFlight)
    logger.warn({ maxInFlight, residentLimit }, "admission limit lowered to half the kernel's resident inventories");
  const maxLoopLagMs = options.maxLoopLagMs ?? 0;
  const loopLag = maxLoopLagMs > 0 ? new LoopLag().start() : undefined;
  let lateTick = -1;
  let lateArrivals = 0;
  // A refused client should come back after about one decision's time budget.
  const retryAfterMs = Math.max(10, options.deadlineMs);
  let inFlight = 0;

  /** One decision in its trace span (the run id tags it and every agent span), counted and logged. */
  function decide(request: DecideRequest, signal?: Cancellation): Promise<DecideResponse> {
    // Load shedding: a request whose client already gave up (deadline passed while it queued) is not worth a
    // decision; deciding it anyway is how an overloaded server stays overloaded.
    if (signal?.aborted)
      return Promise.reject(new ConnectError("deadline passed before the decision started", Code.DeadlineExceeded));
    // Admission: past the limit a decision is refused at once, so the ones admitted still finish in time (an
    // overloaded server that queues everything answers nothing in time).
    if (inFlight >= maxInFlight) {
      options.telemetry?.metrics.decisions.inc({ coordination, outcome: "overloaded" });
      return Promise.reject(overloaded(`${maxInFlight} decisions in flight`, retryAfterMs));
    }
    // The same when requests wait in front of the handlers (unread sockets, unparsed frames) rather than in flight:
    // a loop behind tick after tick reads each request long after it was sent; refusing the backlog lets it catch
    // up. One stall (a collection pause) is not that: its backlog is served (LoopLag.behindMs). The first few of a
    // late stretch are still served either way.
    const lag = loopLag?.behindMs(maxLoopLagMs) ?? 0;
    if (lag > 0) {
      if (loopLag!.ticks !== lateTick) {
        lateTick = loopLag!.ticks;
        lateArrivals = 0;
      }
      if (++lateArrivals > LATE_ADMITS) {
        options.telemetry?.metrics.decisions.inc({ coordination, outcome: "overloaded" });
        return Promise.reject(overloaded(`event loop ${Math.round(lag)} ms behind`, retryAfterMs));
      }
    }
    inFlight++;
    const decisionId = randomUUID();
    const t0 = performance.now();
    return startDecideSpan(decisionId, () => decideOnce(request, decisionId, t0, signal))
      .catch((err: unknown) => {
        if (options.telemetry) recordDecisionError(options.telemetry, coordination, (performance.now() - t0) / 1000);
        throw err;
      })
      .finally(() => {
        inFlight--;
      });
  }

  async function decideOnce(
    request: DecideRequest,
    decisionId: string,
    t0: number,
    signal: Cancellation | undefined,
  ): Promise<DecideResponse> {
    const placement = request.placement;
    if (!placement) throw new ConnectError("placement: value is required", Code.InvalidArgument);
    if (!request.user?.userId) throw new ConnectError("user.user_id: value is required", Code.InvalidArgument);
    const started = Date.now();
    const catalog = catalogView.inventory;
    const inventory = retriever ? retriever.retrieve(catalog, request, started) : catalog;
    const deadlineMs = request.deadlineMs || options.deadlineMs;
    const ctx = { runId: decisionId, request, inventory, nowMs: started, priorVotes: [] };
    const { votes, degraded } = await gatherVotes(ctx, BigInt(catalog.version), {
      nc,
      mirrors,
      coordination,
      deadlineAtMs: started + deadlineMs * agentShare,
      staleAfterMs,
      logger,
    });
    try {
      ensureResident(inventory);
    } catch (err) {
      throw new ConnectError(`kernel: ${(err as Error).message}`, Code.Unavailable, undefined, undefined, err);
    }
    const pod = await decidePod({
      decisionId,
      request,
      inventory,
      votes,
      degraded,
      agents,
      kernel,
      spendGuard,
      coordination,
      moduleVersion,
      signal,
    });
    const { response } = pod;
    if (options.telemetry)
      recordDecision(options.telemetry, {
        decisionId,
        request,
        response,
        coordination,
        agents: [...votes].map(([agent, vote]) => ({
          agent,
          vote,
          degraded: response.degradedAgents.find((d) => d.agent === agent),
        })),
        kernel:
          pod.kernelResult &&
          catalogKernelCall(inventory, toKernelInventory(inventory), pod.inputs.request, pod.inputs.agents),
        kernelResult: pod.kernelResult,
        durationUs: Math.round((performance.now() - t0) * 1000),
      });
    if (!pod.kernelResult) return response;
    const auctioned = pod;
    outcomes.push(() => publishOutcome(decisionId, request, inventory, started, auctioned));
    return response;
  }

  function publishOutcome(
    decisionId: string,
    request: DecideRequest,
    inventory: Inventory,
    at: number,
    pod: Auctioned,
  ): void {
    try {
      outcomeBatch.add(auctionOutcome(decisionId, request, inventory, at, pod, coordination));
    } catch (err) {
      // Learning loses one example; the response is unaffected.
      logger.warn({ err, decisionId }, "auction outcome not published");
    }
  }

  return {
    coordination,
    retrievalStats: retriever?.stats,
    decide: (request, { signal }) => decide(request, signal),
    forgetListeners: (pseudonyms) => mirrors.flatMap((m) => m.forget(pseudonyms).map((k) => `${m.module.name}.${k}`)),
    close() {
      loopLag?.stop();
      outcomes.flush();
      outcomeBatch.flush();
      for (const m of mirrors) m.close();
    },
  };
}
