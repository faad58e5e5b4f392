import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { jetstream } from "@nats-io/jetstream";
import { headers, type Msg, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import { type Service, type ServiceMsg, Svcm } from "@nats-io/services";
import { type AgentVote, DecideTaskSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { ForgetListenersSchema, ListenersForgottenSchema } from "../../gen/chorus/v1/privacy_pb.ts";
import type { CatalogView } from "../../lib/catalog/catalog-view.ts";
import { SliceCache } from "../../lib/catalog/slice-cache.ts";
import { encodeAgentVote } from "../../lib/codecs/agent-vote.ts";
import { encodeMessage } from "../../lib/codecs/registry.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { reportBadMessage } from "../../lib/nats/bad-messages.ts";
import { encodePieces, pieceLimit } from "../../lib/nats/message-pieces.ts";
import { readMessage } from "../../lib/nats/read-message.ts";
import { respondInWindow } from "../../lib/nats/respond-in-window.ts";
import { type IntervalHandle, sharedInterval } from "../../lib/process/shared-interval.ts";
import { guard } from "../../lib/process/survive.ts";
import { subjects, USER_SHARDS } from "../../lib/subjects.ts";
import { AGENT_ATTRIBUTE, withExtractedContext } from "../../telemetry/tracing.ts";
import {
  type AnyAgentModule,
  type DirtyKeys,
  GLOBAL_KEY,
  type HandlerContext,
} from "../../voting/contract/agent-module.ts";
import { AgentStateStore, openAgentStateBucket, SnapshotEncodeError } from "../../voting/mirror/agent-state-store.ts";
import { ALIVE_KEY, INSTANCE_HEADER, SignalMirror } from "../../voting/mirror/signal-mirror.ts";
import { scoringOf } from "../../voting/scoring/agent-scorer.ts";
import { PersistPacer } from "./persist-pacer.ts";
import { type InputLease, SharedInputs } from "./shared-inputs.ts";

export interface RunAgentOptions {
  nc: NatsConnection;
  catalog: CatalogView;
  logger: Logger;
  /** User shards this instance owns (learns and persists); default: all. Ignored by global agents. */
  shards?: readonly number[];
  /** Unique per process; default: a random id. */
  instanceId?: string;
  /** Changed state is published as signals at most this often (coalescing bursts); nothing at all while idle. */
  signalIntervalMs?: number;
  /**
   * A liveness signal (ALIVE_KEY, no payload) this often, so that gateways can tell a live agent from a dead one
   * without a state snapshot per key and second. Default 2 s: gateways call an agent stale after 5 s without a
   * word (two beats may be lost), and each beat wakes every gateway and agent host that mirrors the agent.
   */
  heartbeatMs?: number;
  /**
   * Each key changed since the previous round is published again this often (repairs a signal core NATS dropped;
   * default 10 s). A key that did not change is not: its mirrors already hold its last signal or were repaired.
   */
  refreshMs?: number;
  /** Every this many refresh rounds every owned key is republished, changed or not (default 6: once a minute). */
  fullRefreshRounds?: number;
  /** Changed keys are written to KV at most this often. */
  snapshotIntervalMs?: number;
  /** `tick` runs this often. */
  tickMs?: number;
  /**
   * The process's shared inputs (on `nc`): agents of one host given the same instance subscribe to and decode a
   * subject once between them. Default: inputs of this agent's own.
   */
  inputs?: SharedInputs;
}

/** Service-level error codes of the decide endpoint (the micro-service protocol's Nats-Service-Error-Code). */
export const DecideErrorCode = { BadRequest: 400, InventoryMismatch: 409, Internal: 500 } as const;

/**
 * One running agent instance: state, NATS inputs, a micro-service named `chorus-<agent>` whose `decide` endpoint
 * answers DecideTask with AgentVote in queue group `<agent>`, signals, KV snapshots.
 *
 * States: starting -> running -> draining -> stopped. `stop()` stops taking requests and inputs first, then
 * publishes and persists the final state, so that a restarted instance resumes where this one ended.
 */
export class RunningAgent {
  status: "starting" | "running" | "draining" | "stopped" = "starting";
  /** Incremented on every state change: AgentVote.state_revision. */
  revision = 0n;
  readonly state: unknown;
  service!: Service;
  private readonly dirtySignals = new Set<string>();
  /** The gateway's retrieval slices this agent was asked to vote on. */
  private readonly slices = new SliceCache();
  private readonly dirtySnapshots = new Set<string>();
  private refreshRounds = 0;
  /** Keys changed since the last refresh round (the only ones whose signals a mirror may have missed since). */
  private readonly refreshDue = new Set<string>();
  private readonly persistPacer = new PersistPacer();
  private readonly inputLeases: InputLease[] = [];
  private readonly timers: IntervalHandle[] = [];
  /** Armed by the first state change after a publish: an idle agent wakes up for nothing. */
  private signalTimer: NodeJS.Timeout | undefined;
  private mirror: SignalMirror | undefined;
  private forgetSub: Subscription | undefined;
  private store!: AgentStateStore;
  private readonly owned: ReadonlySet<string>;
  readonly instanceId: string;
  private readonly pieceLimit: number;

  constructor(
    readonly module: AnyAgentModule,
    private readonly options: RunAgentOptions,
  ) {
    this.state = module.createState();
    this.instanceId = options.instanceId ?? `${module.name}-${crypto.randomUUID().slice(0, 8)}`;
    this.pieceLimit = pieceLimit(options.nc.info?.max_payload);
    const shards = options.shards ?? Array.from({ length: USER_SHARDS }, (_, i) => i);
    this.owned = new Set(module.keySpace === "global" ? [GLOBAL_KEY] : shards.map(String));
  }

  get log(): Logger {
    return this.options.logger;
  }

  owns(key: string): boolean {
    return this.owned.has(key);
  }

  async start(): Promise<this> {
    const { nc, logger } = this.options;
    const { module } = this;
    this.store = new AgentStateStore(
      await openAgentStateBucket(jetstream(nc)),
      logger,
      "agent:state",
      nc.info?.max_payload,
    );
    const restored = await this.store.load(module, this.state);
    this.mirror = await SignalMirror.open(
      nc,
      module,
      { selfInstance: this.instanceId, ignoreKey: (k) => this.owns(k), logger, consumer: "agent:mirror" },
      this.state,
    );
    this.subscribeInputs();
    if (module.forget)
      this.forgetSub = nc.subscribe(subjects.usersForget, {
        callback: (err, msg) => {
          if (!err) void this.forget(msg);
        },
      });
    // @nats-io/services 3.0.0-25 is typed against its own nats-core prerelease; the wire protocol and the
    // connection API it uses are the same in nats-core 3.4 (checked by agents/runtime/run-agent.spec.ts).
    this.service = await new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).add({
      name: `chorus-${module.name}`,
      version: module.version,
      description: module.description,
      queue: module.name,
      metadata: { instance: this.instanceId, keys: [...this.owned].join(",") },
    });
    this.service.addEndpoint("decide", {
      subject: subjects.agentDecide(module.name),
      handler: (err, msg) => {
        // The vote runs in a span that continues the gateway's trace (W3C context and run id in the headers).
        if (!err)
          void withExtractedContext(msg, `vote ${module.name}`, () => this.answer(msg), {
            [AGENT_ATTRIBUTE]: module.name,
          });
      },
    });
    const every = (ms: number, fn: () => void) =>
      // Shared per period: the host's agents do their 1 s chores in one wake-up (lib/process/shared-interval.ts).
      this.timers.push(sharedInterval(`${module.name} timer`, ms, fn, this.log));
    every(this.options.heartbeatMs ?? 2_000, () => this.publishAlive());
    // Heard at once, not one beat later: a gateway started before this agent counts it live from its first decision.
    this.publishAlive();
    every(this.options.refreshMs ?? 10_000, () => this.refresh());
    every(this.options.snapshotIntervalMs ?? 1_000, () => void this.persist());
    if (module.tick) every(this.options.tickMs ?? 1_000, () => this.apply(() => module.tick!(this.state, Date.now())));
    for (const key of this.owned) {
      this.dirtySignals.add(key);
      this.refreshDue.add(key);
    }
    this.armSignals();
    // Once start() resolves, the server knows every subscription: a request sent next finds a responder.
    await nc.flush();
    this.status = "running";
    logger.info(
      { agent: module.name, instance: this.instanceId, keys: this.owned.size, restored: restored.length },
      "agent running",
    );
    return this;
  }

  /** Stops taking work, publishes and persists the final state. Does not close the connection (its owner does). */
  async stop(): Promise<void> {
    if (this.status !== "running") return;
    this.status = "draining";
    for (const t of this.timers) t.stop();
    clearTimeout(this.signalTimer);
    await this.service.stop();
    this.forgetSub?.unsubscribe();
    await Promise.all(this.inputLeases.map((l) => l.release()));
    this.mirror?.close();
    this.publishSignals(this.dirtySignals);
    await this.persist(true);
    await this.options.nc.flush();
    this.status = "stopped";
    this.log.info({ agent: this.module.name, instance: this.instanceId }, "agent stopped");
  }

  private subscribeInputs(): void {
    const { nc } = this.options;
    const inputs = this.options.inputs ?? new SharedInputs(nc, this.log);
    const ctx: HandlerContext = {
      get nowMs() {
        return Date.now();
      },
      inventory: () => this.options.catalog.inventory,
      owns: (key) => this.owns(key),
    };
    const accepts = () => this.status === "running";
    for (const input of this.module.inputs) {
      const subjectsToTake =
        typeof input.subject === "string"
          ? [input.subject]
          : [...this.owned].filter((k) => k !== GLOBAL_KEY).map((k) => (input.subject as (s: number) => string)(+k));
      const taker = {
        name: this.module.name,
        accepts,
        deliver: (message: unknown) => this.apply(() => input.handle(this.state, message as never, ctx)),
      };
      for (const subject of subjectsToTake) this.inputLeases.push(inputs.take(subject, input.schema, taker));
    }
  }

  /**
   * Erasure: drops the listeners from this instance's state (its own keys and the peers' keys it mirrors), writes
   * the changed snapshots it owns at once (KV keeps one revision per key, so the old value is gone from the bucket)
   * and answers with the keys it changed.
   */
  private async forget(msg: Msg): Promise<void> {
    const receivedAt = performance.now();
    const read = readMessage(ForgetListenersSchema, msg.data);
    if (!read.ok || read.message.pseudonyms.length === 0) {
      reportBadMessage(this.log, {
        consumer: `agent:${this.module.name}`,
        subject: msg.subject,
        reason: read.ok ? "out_of_range" : read.reason,
        detail: read.ok ? "no pseudonym" : read.detail,
      });
      return;
    }
    const changed: string[] = [];
    this.apply(() => {
      const keys = [...(this.module.forget!(this.state, new Set(read.message.pseudonyms)) ?? [])];
      changed.push(...keys);
      return keys;
    });
    // The erased shards are written before the answer (an answered erasure is durable); other dirty shards wait for
    // their paced round, so the answer comes well within the bus's response window (RESPONSE_WINDOW_MS).
    await this.writeSnapshots(changed.filter((k) => this.dirtySnapshots.delete(k)));
    this.publishSignals(changed.filter((k) => this.owns(k)));
    const answered = respondInWindow(
      msg,
      toBinary(
        ListenersForgottenSchema,
        create(ListenersForgottenSchema, { process: this.instanceId, agent: this.module.name, keys: changed }),
      ),
      receivedAt,
    );
    // Erased either way; unanswered, it is missing from the requester's count (a second run finds nothing to change).
    this.log.info({ agent: this.module.name, keys: changed.length, answered }, "listeners forgotten");
  }

  /** Runs a state change; a handler that throws loses that one message, never the process. */
  private apply(change: () => DirtyKeys): void {
    let dirty: DirtyKeys;
    try {
      dirty = change();
    } catch (e) {
      this.log.error({ agent: this.module.name, err: e }, "state update failed");
      return;
    }
    for (const key of dirty ?? []) {
      if (!this.owns(key)) continue;
      this.dirtySignals.add(key);
      this.dirtySnapshots.add(key);
      this.refreshDue.add(key);
      this.revision++;
    }
    this.armSignals();
  }

  /** Publishes the changed keys one signal interval after the first change (a burst becomes one signal per key). */
  private armSignals(): void {
    if (this.signalTimer !== undefined || this.dirtySignals.size === 0 || this.status === "stopped") return;
    this.signalTimer = setTimeout(
      guard(
        `${this.module.name} signals`,
        () => {
          this.signalTimer = undefined;
          if (this.status === "running") this.publishSignals(this.dirtySignals);
          else if (this.status === "starting") this.armSignals();
        },
        this.log,
      ),
      this.options.signalIntervalMs ?? this.module.signalIntervalMs ?? 50,
    );
  }

  /**
   * Publishes again the keys changed since the previous round: a signal of one of them may have been dropped (core
   * NATS, a slow consumer). An idle agent publishes nothing here; republishing every key woke every mirror of an
   * idle mesh for an empty delta per user shard (Intent, Timing) and the whole Relevance model. Every
   * `fullRefreshRounds`-th round still republishes every key: a mirror cut off for longer than a round (a reconnect)
   * missed the one repeat of a change, and mirrors do not reload from KV on their own.
   */
  private refresh(): void {
    const all = ++this.refreshRounds % (this.options.fullRefreshRounds ?? 6) === 0;
    // A key whose first signal has not gone out yet (its timer is pending) stays due: its repeat comes next round
    // (published here, it once went out only once when a round fell between a change and its signal).
    const pending = this.dirtySignals;
    const keys = all ? [...this.owned] : [...this.refreshDue].filter((k) => !pending.has(k));
    for (const key of keys) if (!pending.has(key)) this.refreshDue.delete(key);
    this.publishSignals(keys);
  }

  private publishAlive(): void {
    const { nc } = this.options;
    if (nc.isClosed()) return;
    const h = headers();
    h.set(INSTANCE_HEADER, this.instanceId);
    nc.publish(subjects.agentSignal(this.module.name, ALIVE_KEY), undefined, { headers: h });
  }

  private answer(msg: ServiceMsg): void {
    const started = process.hrtime.bigint();
    try {
      const task = fromBinary(DecideTaskSchema, msg.data);
      if (!task.request) {
        msg.respondError(DecideErrorCode.BadRequest, "decide task without request");
        return;
      }
      // Past its deadline nobody waits for the answer: do not spend the CPU.
      if (task.deadline && timestampMs(task.deadline) < Date.now()) return;
      const catalog = this.options.catalog.inventory;
      if (BigInt(catalog.version) !== task.inventoryVersion) {
        msg.respondError(
          DecideErrorCode.InventoryMismatch,
          `inventory version ${catalog.version} here, ${task.inventoryVersion} in the task`,
        );
        return;
      }
      const inventory = task.candidates.length > 0 ? this.slices.get(catalog, task.candidates) : catalog;
      if (!inventory) {
        msg.respondError(DecideErrorCode.BadRequest, "candidates: not ascending catalog indices, or too many");
        return;
      }
      const vote: AgentVote = this.module.vote(
        { runId: task.runId, request: task.request, inventory, nowMs: Date.now(), priorVotes: task.priorVotes },
        this.state,
      );
      // A failed scoring module call: the gateway degrades this agent and votes on its own mirror instead.
      const scoring = scoringOf(vote);
      if (scoring?.failure) {
        msg.respondError(DecideErrorCode.Internal, `scoring module call failed (${scoring.failure})`);
        return;
      }
      // The vote is this call's own message: stamped in place rather than copied.
      vote.agent = this.module.name;
      vote.runId = task.runId;
      vote.inventoryVersion = task.inventoryVersion;
      vote.stateRevision = this.revision;
      vote.moduleVersion = scoring?.version ?? this.module.version;
      vote.computeUs = Number((process.hrtime.bigint() - started) / 1000n);
      msg.respond(encodeAgentVote(vote));
    } catch (e) {
      this.log.error({ agent: this.module.name, err: e }, "decide failed");
      msg.respondError(DecideErrorCode.Internal, e instanceof Error ? e.message : String(e));
    }
  }

  private publishSignals(keys: Iterable<string>): void {
    const { nc } = this.options;
    if (nc.isClosed()) return;
    const h = headers();
    h.set(INSTANCE_HEADER, this.instanceId);
    for (const key of [...keys]) {
      try {
        const signal = this.module.snapshot(this.state, key, "delta");
        const whole = encodeMessage(this.module.signalSchema, signal);
        // A delta past the max payload (a burst of listeners) goes in pieces, each merged on its own by mirrors.
        const pieces =
          whole.length <= this.pieceLimit ? [whole] : encodePieces(this.module.signalSchema, signal, this.pieceLimit);
        for (const piece of pieces)
          nc.publish(subjects.agentSignal(this.module.name, key), piece, {
            headers: h,
          });
      } catch (e) {
        this.log.warn({ agent: this.module.name, key, err: e }, "signal not published");
      }
      this.dirtySignals.delete(key);
    }
  }

  /** Writes the changed snapshots; unless `now` (stop), no sooner than the pacer allows. */
  private async persist(now = false): Promise<void> {
    const started = performance.now();
    if (!now && !this.persistPacer.mayRun(started)) return;
    const keys = [...this.dirtySnapshots];
    this.dirtySnapshots.clear();
    try {
      await this.writeSnapshots(keys);
    } finally {
      this.persistPacer.ran(started, performance.now());
    }
  }

  private async writeSnapshots(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      try {
        await this.store.save(this.module, this.state, key);
      } catch (e) {
        // NATS trouble is retried at the next interval; a state that cannot be encoded is not (it would fail every
        // second for ever): reported, and saved again at its next change.
        if (!(e instanceof SnapshotEncodeError)) this.dirtySnapshots.add(key);
        this.log.warn({ agent: this.module.name, key, err: e }, "state snapshot not saved");
      }
    }
  }
}

/** Starts an agent instance (see RunningAgent). */
export function runAgent(module: AnyAgentModule, options: RunAgentOptions): Promise<RunningAgent> {
  return new RunningAgent(module, options).start();
}
