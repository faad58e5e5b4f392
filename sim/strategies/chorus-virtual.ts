import { timestampMs } from "@bufbuild/protobuf/wkt";
import { BudgetBook, type BudgetPolicy } from "../../agents/budget/budget-book.ts";
import { auctionOutcome, decidePod, moduleVersionCache, type PodDecision } from "../../gateway/decide/decide-pod.ts";
import { residentInventories } from "../../gateway/decide/kernel-port.ts";
import { DEFAULT_MAX_CANDIDATES, Retriever } from "../../gateway/decide/retrieval.ts";
import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { type Campaign, EntityStatus } from "../../gen/chorus/v1/campaign_pb.ts";
import {
  type AdEvent,
  type DecideRequest,
  type DecideResponse,
  type PlaybackSignal,
  PlaybackSignalSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import { LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import type { EventLimits } from "../../ledger/event-rules.ts";
import { LeaseSpendGuard } from "../../ledger/spend-guard.ts";
import { Inventory } from "../../lib/catalog/inventory.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { createSeededRandom } from "../../lib/random/seeded-random.ts";
import { AGENTS, type AgentName, subjects, VOTING_AGENTS } from "../../lib/subjects.ts";
import type { BudgetState } from "../../voting/budget/state.ts";
import type { AnyAgentModule } from "../../voting/contract/agent-module.ts";
import { loadAgents } from "../../voting/registry/agent-loaders.ts";
import { KernelPool, readKernelWasm } from "../../wasm-core/src/mod.ts";
import { DEFAULT_RESIDENT_INVENTORIES } from "../../wasm-core/src/resident-inventories.ts";
import { AgentBus } from "../virtual/agent-bus.ts";
import { EventLedger } from "../virtual/event-ledger.ts";
import type { SimClock, Strategy, StrategySetup } from "../world/strategy.ts";

export interface VirtualChorusOptions {
  /** The Budget agent's policy (lease size, lookahead, TTL...): the mesh's BUDGET_* settings. */
  policy?: Partial<BudgetPolicy>;
  eventLimits?: Partial<EventLimits>;
  /** How often the Budget agent sweeps expired leases and sales (the budget service's upkeep). */
  upkeepMs?: number;
  /** How often agents tick (the runtime's tickMs). */
  tickMs?: number;
  /** Retrieval's N: candidates a decision is made on (the gateway's CHORUS_RETRIEVAL_MAX_CANDIDATES). */
  maxCandidates?: number;
  /**
   * Diagnostics only: called after every decision with what it was decided on (read-only; e.g. sim/loss-reasons.ts
   * attributes each campaign's lost breaks to a cause). Never changes a decision.
   */
  observe?: (decision: ObservedDecision) => void;
}

/** One decision as the diagnostics see it. */
export interface ObservedDecision {
  decisionId: string;
  nowMs: number;
  request: DecideRequest;
  catalog: Inventory;
  inventory: Inventory;
  pod: PodDecision;
  guard: LeaseSpendGuard;
  book: BudgetBook;
  state: (agent: AgentName) => unknown;
}

/**
 * Chorus in virtual time: one gateway's decision pipeline (the retrieval stage, then gateway/decide/decide-pod.ts:
 * every agent's vote on its state, the WASM kernel, the spend guard with its leases) and every agent's learning (agent modules' handlers and
 * ticks, fed the messages NATS would carry, through the wire codecs), the Budget agent's book granting the leases
 * and the ledger's event rules, all in this process on the world's simulated clock. Deterministic per seed: decision
 * ids come from the seed, and nothing reads the wall clock. What it leaves out of the mesh: NATS itself, signal
 * propagation delay (votes read the agents' current state, as `cached` coordination with fresh signals does) and
 * timeouts; `chorus-mesh` runs the real processes on the wall clock for that.
 */
export class VirtualChorusStrategy implements Strategy {
  readonly name = "chorus";
  readonly realtime = false;
  readonly compressedClock = true;
  private modules: AnyAgentModule[] = [];
  private kernel: KernelPool | undefined;
  private bus: AgentBus | undefined;
  private book: BudgetBook | undefined;
  private guard: LeaseSpendGuard | undefined;
  private inventory: Inventory | undefined;
  private retriever: Retriever | undefined;
  private ensureResident: ((inventory: Inventory) => void) | undefined;
  private readonly ledger: EventLedger;
  private clock: SimClock = { toWallMs: (ms) => ms };
  private nowMs = 0;
  private nextUpkeep = 0;
  private nextTick = 0;
  private random: () => number = Math.random;
  private readonly moduleVersion = moduleVersionCache();
  private readonly agents: readonly AgentName[] = VOTING_AGENTS;

  constructor(private readonly options: VirtualChorusOptions = {}) {
    this.ledger = new EventLedger(options.eventLimits);
  }

  async launch(): Promise<void> {
    this.modules = await loadAgents(AGENTS);
    this.kernel = new KernelPool({ mode: "inline", moduleBytes: readKernelWasm("simd"), moduleVersion: "sim" });
    await this.kernel.ready();
  }

  async start(setup: StrategySetup): Promise<void> {
    this.clock = setup.clock;
    this.random = createSeededRandom(setup.seed ^ 0x5eed);
    const active = <T extends { id: string; status: EntityStatus }>(xs: readonly T[]) =>
      new Map(xs.map((x) => [x.id, { ...x, status: x.status || EntityStatus.ACTIVE }]));
    const campaigns = active(setup.campaigns);
    const inventory = new Inventory(active(setup.advertisers), campaigns, active(setup.creatives));
    this.inventory = inventory;
    this.ensureResident = residentInventories(this.kernel!, DEFAULT_RESIDENT_INVENTORIES);
    this.bus = new AgentBus(this.modules, () => inventory);
    // The mesh's processes start a few seconds before the first flight (world.ts startupMs); the Budget agent has
    // been up long enough that no lease of an earlier life is outstanding.
    this.nowMs = this.clock.toWallMs(0) - 5_000;
    const policy = this.options.policy ?? {};
    const book = new BudgetBook(policy, this.nowMs - 60_000, "sim-budget");
    book.setCampaigns(campaigns.values() as Iterable<Campaign>);
    (this.bus.state("budget") as BudgetState).book = book;
    this.book = book;
    this.nextUpkeep = this.nowMs;
    this.nextTick = this.nowMs;
    this.guard = await LeaseSpendGuard.create({
      gatewayId: "sim-gateway",
      logger: createLogger("sim-spend-guard", "silent"),
      clock: () => this.nowMs,
      leases: { request: async (request) => book.grant(request, this.nowMs) },
      receipts: {
        put: async (receipt) => {
          this.ledger.putReceipt(receipt);
          book.onReceipt(receipt, this.nowMs);
        },
      },
    });
    this.advance(this.nowMs);
    this.guard.prefetch(campaigns.keys());
    const guard = this.guard;
    this.retriever = new Retriever({
      maxCandidates: this.options.maxCandidates ?? DEFAULT_MAX_CANDIDATES,
      mayServe: (campaignId) => guard.headroom(campaignId) > 0n,
    });
  }

  async decide(request: DecideRequest, atSimMs: number): Promise<DecideResponse> {
    this.advance(this.clock.toWallMs(atSimMs));
    const decisionId = this.nextDecisionId();
    const decidedAt = this.nowMs;
    // The gateway's retrieval stage: the slice of the catalog this request may be decided on.
    const inventory = this.retriever!.retrieve(this.inventory!, request, decidedAt);
    this.ensureResident!(inventory);
    const ctx = { runId: decisionId, request, inventory, nowMs: decidedAt, priorVotes: [] };
    const votes = new Map(
      this.modules.map((m) => {
        const vote = m.vote(ctx, this.bus!.state(m.name));
        vote.agent = m.name;
        vote.moduleVersion = m.version;
        return [m.name, vote] as const;
      }),
    );
    const pod = await decidePod({
      decisionId,
      request,
      inventory,
      votes,
      degraded: [],
      agents: this.agents,
      kernel: this.kernel!,
      spendGuard: this.guard,
      coordination: "cached",
      moduleVersion: this.moduleVersion,
    });
    this.options.observe?.({
      decisionId,
      nowMs: decidedAt,
      request,
      catalog: this.inventory!,
      inventory,
      pod,
      guard: this.guard!,
      book: this.book!,
      state: (agent) => this.bus!.state(agent),
    });
    if (pod.kernelResult) {
      const outcome = auctionOutcome(decisionId, request, inventory, decidedAt, pod, "cached");
      this.bus!.publish(subjects.auctionOutcomes, AuctionOutcomeSchema, outcome, this.nowMs);
    }
    return pod.response;
  }

  async reportPlayback(signals: readonly PlaybackSignal[]): Promise<void> {
    for (const signal of signals) {
      if (signal.at) this.advance(timestampMs(signal.at));
      this.bus!.publish(subjects.playback(signal.userId), PlaybackSignalSchema, signal, this.nowMs);
    }
  }

  async reportEvents(events: readonly AdEvent[], atSimMs: number): Promise<void> {
    this.advance(this.clock.toWallMs(atSimMs));
    for (const { sequence, entry, acceptedSubject } of this.ledger.report(events, this.nowMs)) {
      this.book!.onEntry(sequence, entry, this.nowMs);
      this.bus!.publish(acceptedSubject, LedgerEntrySchema, entry, this.nowMs);
    }
  }

  async stop(): Promise<void> {
    await this.kernel?.close();
  }

  /** Events rejected or refused as duplicates by the ledger's rules, and handler failures (for the report). */
  diagnostics(): Record<string, number> {
    return {
      eventsRejected: this.ledger.rejected,
      eventsDuplicate: this.ledger.duplicates,
      handlerErrors: this.bus?.handlerErrors ?? 0,
    };
  }

  /**
   * Moves the clock to `t` (never back), running what the mesh runs on timers in between, in time order: the
   * Budget agent's sweep of expired leases and sales, and the agents' ticks (Budget's refresh of its signal).
   */
  private advance(t: number): void {
    const upkeepMs = this.options.upkeepMs ?? 250;
    const tickMs = this.options.tickMs ?? 1_000;
    for (;;) {
      const next = Math.min(this.nextUpkeep, this.nextTick);
      if (next > t) break;
      this.nowMs = Math.max(this.nowMs, next);
      if (next === this.nextUpkeep) {
        this.book!.expire(next);
        this.nextUpkeep += upkeepMs;
      } else {
        this.bus!.tick(next);
        this.nextTick += tickMs;
      }
    }
    this.nowMs = Math.max(this.nowMs, t);
  }

  /** A UUID-shaped id from the seeded stream: Bidding and Budget seed their draws from the run id. */
  private nextDecisionId(): string {
    const hex = (n: number) =>
      Math.floor(this.random() * 16 ** n)
        .toString(16)
        .padStart(n, "0");
    return `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`;
  }
}
