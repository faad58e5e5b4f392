/**
 * Runs the kernel for the gateway: in a piscina pool of workers (isolation: a runaway or trapping module
 * costs one decision and one worker, never the gateway), or inline on the calling thread for comparison.
 *
 * Pool mode, per worker ("lane"): one long-lived piscina task serves a shared-memory ring (kernel-ring.ts).
 * `decide` copies the request into a free slot and publishes it; every decision waiting when a worker comes
 * round is taken back to back, so waiting requests are batched without a postMessage per request. Workers
 * bump one shared doorbell word per finished slot; while decisions are in flight the pool polls it from
 * setImmediate (about 2 us to notice, against about 16 us for an Atomics.waitAsync wake-up, measured on the
 * two-core box), and parks on Atomics.waitAsync once nothing has finished for `pollMicros`. Candidate
 * features stay resident in each worker's kernel memory and are replaced only by `setInventory`;
 * `setModule` swaps the module in every worker at a decision boundary.
 *
 * Lane lifecycle: starting (serve task posted, worker loading) -> ready (worker posted "ready") -> replaced
 * (trap, timeout or unexpected exit: the piscina task is aborted, which terminates the thread and makes
 * piscina start another; the decision that failed is rejected, the ones still queued in the ring go back
 * to the front of the pool's queue, and a fresh lane with a fresh ring takes the lane's place) or stopped
 * (close).
 */
import { MessageChannel } from "node:worker_threads";
import { Piscina } from "piscina";
import { checkCapacity, checkInventory, checkRequest } from "./kernel-checks.ts";
import {
  KernelClosedError,
  KernelInputError,
  KernelInventoryMismatchError,
  KernelModuleError,
  KernelTimeoutError,
  KernelTrapError,
  KernelWorkerLostError,
} from "./kernel-errors.ts";
import type { KernelCapacity, KernelInventory, KernelRequest, KernelResult } from "./kernel-inputs.ts";
import type { KernelInstance } from "./kernel-instance.ts";
import { Lane, workerEntry } from "./kernel-lane.ts";
import { compileKernel, instantiateKernel } from "./kernel-loader.ts";
import { DecisionQueue, type PendingDecision } from "./kernel-queue.ts";
import { Control, Doorbell, KernelRing, SlotOutcome, SlotState } from "./kernel-ring.ts";
import type { ControlMessage, ReadyMessage, ServeResult, ServeTask } from "./kernel-worker.ts";
import { DEFAULT_RESIDENT_INVENTORIES, ResidentInventories } from "./resident-inventories.ts";

// Atomics.waitAsync ships with Node 20 (V8 11) but enters TypeScript's lib only with es2024.
type WaitAsyncResult =
  | { readonly async: false; readonly value: "not-equal" | "timed-out" }
  | { readonly async: true; readonly value: Promise<"ok" | "timed-out"> };
const { waitAsync } = Atomics as unknown as {
  waitAsync: (array: Int32Array, index: number, value: number) => WaitAsyncResult;
};

export interface KernelPoolOptions {
  /** 'pool': piscina workers (default); 'inline': the calling thread, no isolation and no time budget. */
  readonly mode?: "pool" | "inline";
  /** Workers in pool mode (default 1: on two cores the gateway's own thread needs the other one). */
  readonly size?: number;
  readonly moduleBytes: Uint8Array;
  readonly moduleVersion: string;
  /**
   * Budget of one decision, wall clock from when a worker starts it; past it the worker is terminated.
   * Default 250 ms: a decision takes microseconds, but an oversubscribed host can deschedule a worker for tens
   * of milliseconds, and a false timeout costs a worker restart.
   */
  readonly callTimeoutMs?: number;
  /** Memory is laid out once for this (defaults: 4,096 candidates, 256 dimensions, 16 agents). */
  readonly capacity?: Partial<KernelCapacity>;
  /** Ring slots per worker: decisions that can wait in shared memory for one worker (default 32). */
  readonly queueDepth?: number;
  /**
   * Longest spin of an idle worker on its ring before it sleeps, in microseconds (default 1,500; 0 = sleep at
   * once). The spin is adaptive (SpinPolicy in kernel-worker.ts): twice the median of the worker's recent idle
   * gaps, none when that median exceeds this cap, so traffic slower than about 1 / cap and idle pools never
   * spin, and only one idle worker of the pool spins at a time. A sleeping worker costs the next decision a
   * futex wake-up (about 15 us on an idle core, more on a busy host); a spinning one keeps its core busy.
   */
  readonly spinMicros?: number;
  /**
   * How long the pool polls for finished decisions, with none finishing, before parking on Atomics.waitAsync,
   * in microseconds (default 200; 0 = park at once). Polling yields to I/O on every turn of the event loop.
   */
  readonly pollMicros?: number;
  /** Inventories kept resident at once (default 64; see resident-inventories.ts). */
  readonly residentInventories?: number;
}

export interface KernelPoolStats {
  /** Thread ids of the workers currently serving (a replaced worker gets a new id). */
  readonly workerThreadIds: readonly number[];
  readonly queued: number;
  readonly inFlight: number;
  readonly replacedWorkers: { readonly trap: number; readonly timeout: number; readonly lost: number };
  /** Decisions handed to a sleeping worker (each paid a futex wake-up); the rest found it spinning or busy. */
  readonly wakeups: number;
}

const MAX_STARTUP_FAILURES = 3;

export const DEFAULT_CAPACITY: KernelCapacity = { maxCandidates: 4096, maxDimensions: 256, maxAgents: 16 };

type ReplaceCause = "trap" | "timeout" | "lost";

export class KernelPool {
  readonly mode: "pool" | "inline";
  readonly size: number;
  readonly capacity: KernelCapacity;
  readonly callTimeoutMs: number;
  readonly #queueDepth: number;
  readonly #spinMicros: number;
  readonly #pollMicros: number;
  #module: WebAssembly.Module;
  #moduleGeneration = 0;
  readonly #moduleVersions = new Map<number, string>();
  readonly #inventories: ResidentInventories;
  /** Inline mode only. */
  #instance: KernelInstance | undefined;

  readonly #piscina: Piscina | undefined;
  readonly #lanes: Lane[] = [];
  /** Lane ids start at 1: 0 in the doorbell's Spinner word means no worker spins. */
  #laneIds = 0;
  readonly #queue = new DecisionQueue();
  readonly #doorbell = new Int32Array(new SharedArrayBuffer(Doorbell.Words * 4));
  #doorbellSeen = 0;
  /** How the pool learns that slots finished: not at all (nothing in flight), by polling, or parked. */
  #watch: "idle" | "polling" | "parked" = "idle";
  #pollingSince = 0;
  /** An Atomics.waitAsync is outstanding (it cannot be cancelled; at most one at a time). */
  #parked = false;
  /** Armed only while decisions are in flight (an idle gateway has no timer waking it); see #armWatchdog. */
  #watchdog: NodeJS.Timeout | undefined;
  readonly #replaced = { trap: 0, timeout: 0, lost: 0 };
  #wakeups = 0;
  #closing = false;
  #closed: Promise<void> | undefined;
  #stopped = false;
  /** Workers that died before ever becoming ready, in a row; see MAX_STARTUP_FAILURES. */
  #startupFailures = 0;
  #broken: KernelWorkerLostError | undefined;
  #whenIdle: (() => void)[] = [];
  readonly #firstReady: Promise<void>;
  #resolveFirstReady: () => void = () => {};

  constructor(options: KernelPoolOptions) {
    this.mode = options.mode ?? "pool";
    this.size = this.mode === "pool" ? (options.size ?? 1) : 0;
    this.capacity = { ...DEFAULT_CAPACITY, ...options.capacity };
    this.callTimeoutMs = options.callTimeoutMs ?? 250;
    this.#queueDepth = options.queueDepth ?? 32;
    this.#spinMicros = options.spinMicros ?? 1500;
    this.#pollMicros = options.pollMicros ?? 200;
    this.#inventories = new ResidentInventories(options.residentInventories ?? DEFAULT_RESIDENT_INVENTORIES);
    checkCapacity(this.capacity);
    if (this.mode === "pool" && (!Number.isInteger(this.size) || this.size < 1)) {
      throw new KernelInputError("pool size must be a positive integer");
    }
    if (!(this.callTimeoutMs > 0) || !Number.isInteger(this.#queueDepth) || this.#queueDepth < 1) {
      throw new KernelInputError("callTimeoutMs must be > 0 and queueDepth a positive integer");
    }

    // Static checks here, so a bad module fails the constructor. Module code (configure, decide) runs only in the
    // workers, under the time budget; inline mode runs it here, with no protection.
    this.#module = compileKernel(options.moduleBytes);
    this.#moduleVersions.set(0, options.moduleVersion);
    this.#firstReady = new Promise((resolve) => {
      this.#resolveFirstReady = resolve;
    });

    if (this.mode === "inline") {
      this.#instance = instantiateKernel(this.#module, this.capacity);
      this.#resolveFirstReady();
      return;
    }
    const entry = workerEntry();
    this.#piscina = new Piscina({
      filename: entry.filename,
      execArgv: entry.execArgv,
      minThreads: this.size,
      maxThreads: this.size,
      concurrentTasksPerWorker: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      // The serve task never returns to piscina's own Atomics.wait loop while it serves; see kernel-worker.ts.
      atomics: "disabled",
    });
    for (let i = 0; i < this.size; i++) this.#lanes.push(this.#startLane());
  }

  get moduleVersion(): string {
    return this.#moduleVersions.get(this.#moduleGeneration)!;
  }

  /** The inventory made resident last. */
  get inventoryVersion(): number | undefined {
    return this.#inventories.latest?.version;
  }

  hasInventory(version: number): boolean {
    return this.#inventories.get(version) !== undefined;
  }

  /** Resolves once every initial worker can decide (decisions made earlier simply wait in the queue). */
  ready(): Promise<void> {
    return this.#firstReady;
  }

  stats(): KernelPoolStats {
    return {
      workerThreadIds: this.#lanes.filter((lane) => lane.ready).map((lane) => lane.threadId),
      queued: this.#queue.length,
      inFlight: this.#inFlight(),
      replacedWorkers: { ...this.#replaced },
      wakeups: this.#wakeups,
    };
  }

  /**
   * Makes `inventory` resident everywhere, beside the ones added before (the oldest beyond `residentInventories`
   * are dropped); decisions may name any resident version.
   */
  setInventory(inventory: KernelInventory): void {
    this.#assertOpen();
    checkInventory(inventory, this.capacity);
    this.#inventories.add(inventory);
    this.#instance?.setInventory(inventory);
    this.#broadcast({ type: "inventory", inventory });
  }

  /**
   * Validates and activates another module. Every decision made after this call runs on it; decisions
   * already in a worker's ring may run on either, and each result names the version it used.
   */
  setModule(version: string, bytes: Uint8Array): void {
    this.#assertOpen();
    const module = compileKernel(bytes);
    if (this.mode === "inline") {
      const instance = instantiateKernel(module, this.capacity);
      const latest = this.#inventories.latest;
      if (latest !== undefined) instance.setInventory(latest);
      this.#instance = instance;
    }
    this.#module = module;
    this.#moduleGeneration++;
    this.#moduleVersions.set(this.#moduleGeneration, version);
    this.#broadcast({ type: "module", module, generation: this.#moduleGeneration });
  }

  decide(request: KernelRequest): Promise<KernelResult> {
    if (this.#closing) return Promise.reject(new KernelClosedError());
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    try {
      checkRequest(request, this.#inventories.shape(request.inventoryVersion), this.capacity);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#instance !== undefined) return this.#decideInline(this.#instance, request);
    return new Promise<KernelResult>((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      this.#dispatch();
    });
  }

  /** Refuses new decisions, lets accepted ones finish, then stops the workers. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    if (this.#piscina === undefined) return;
    if (this.#queue.length > 0 || this.#inFlight() > 0) {
      await new Promise<void>((resolve) => this.#whenIdle.push(resolve));
    }
    this.#stopped = true;
    clearInterval(this.#watchdog);
    // Release an outstanding Atomics.waitAsync so that it cannot keep the process alive.
    Atomics.add(this.#doorbell, Doorbell.Count, 1);
    Atomics.notify(this.#doorbell, Doorbell.Count);
    for (const lane of this.#lanes) {
      Atomics.store(lane.ring.control, Control.Stop, 1);
      Atomics.notify(lane.ring.control, Control.Published);
      lane.port.close();
    }
    await this.#piscina.destroy();
  }

  #inFlight(): number {
    let inFlight = 0;
    for (const lane of this.#lanes) inFlight += lane.inFlight;
    return inFlight;
  }

  #assertOpen(): void {
    if (this.#closing) throw new KernelClosedError();
  }

  #decideInline(instance: KernelInstance, request: KernelRequest): Promise<KernelResult> {
    try {
      if (instance.inventory?.version !== request.inventoryVersion)
        instance.setInventory(this.#inventories.get(request.inventoryVersion)!);
      return Promise.resolve(instance.decide(request, this.moduleVersion));
    } catch (error) {
      if (error instanceof KernelTrapError) {
        // A trapped instance is never reused: same policy as replacing the worker.
        const fresh = instantiateKernel(this.#module, this.capacity);
        const latest = this.#inventories.latest;
        if (latest !== undefined) fresh.setInventory(latest);
        this.#instance = fresh;
        this.#replaced.trap++;
        return Promise.reject(
          new KernelTrapError(`module ${this.moduleVersion} trapped: ${error.message}; instance recreated`, {
            cause: error,
          }),
        );
      }
      return Promise.reject(error);
    }
  }

  #broadcast(message: ControlMessage): void {
    for (const lane of this.#lanes) {
      lane.port.postMessage(message);
      lane.controlGeneration++;
    }
  }

  #startLane(): Lane {
    const ring = new KernelRing(this.capacity, this.#queueDepth);
    const { port1, port2 } = new MessageChannel();
    const lane = new Lane(++this.#laneIds, ring, port1);
    port1.on("message", (message: ReadyMessage) => {
      if (lane.replaced) return;
      this.#startupFailures = 0;
      lane.ready = true;
      lane.threadId = message.threadId;
      if (this.#lanes.every((l) => l.ready)) this.#resolveFirstReady();
      this.#dispatch();
    });
    port1.unref();
    const task: ServeTask = {
      ring: ring.buffer,
      depth: ring.depth,
      capacity: this.capacity,
      doorbell: this.#doorbell.buffer as SharedArrayBuffer,
      port: port2,
      module: this.#module,
      moduleGeneration: this.#moduleGeneration,
      inventories: this.#inventories.values(),
      residentInventories: this.#inventories.limit,
      spinMicros: this.#spinMicros,
      laneId: lane.id,
    };
    const settled = (outcome: ServeResult | unknown): void => {
      if (lane.replaced || this.#stopped) return;
      if (!lane.ready && ++this.#startupFailures >= MAX_STARTUP_FAILURES) {
        this.#giveUp(lane, outcome);
        return;
      }
      this.#replaceLane(lane, "lost", outcome);
    };
    this.#piscina!.run(task, { signal: lane.abort.signal, transferList: [port2] }).then(settled, settled);
    return lane;
  }

  /** Workers cannot even start (a broken deployment): fail what waits and every later decision. */
  #giveUp(lane: Lane, reason: unknown): void {
    lane.replaced = true;
    this.#broken = new KernelWorkerLostError(`kernel workers fail to start (${MAX_STARTUP_FAILURES} in a row)`, {
      cause: reason,
    });
    for (const pending of this.#queue.drain()) pending.reject(this.#broken);
    for (const resolve of this.#whenIdle.splice(0)) resolve();
  }

  /** Fills free ring slots from the queue, least-loaded ready lane first (see Lane.load). */
  #dispatch(): void {
    while (this.#queue.length > 0) {
      let lane: Lane | undefined;
      let laneLoad = 0;
      for (const candidate of this.#lanes) {
        if (!candidate.ready || candidate.inFlight >= this.#queueDepth) continue;
        const load = candidate.load;
        if (lane === undefined || load < laneLoad) {
          lane = candidate;
          laneLoad = load;
        }
      }
      if (lane === undefined) break;
      const pending = this.#queue.shift()!;
      const sequence = lane.published;
      const { request } = pending;
      lane.ring.writeRequest(sequence, request, request.vetoMask.length, lane.controlGeneration);
      lane.pending[sequence % this.#queueDepth] = pending;
      lane.published = sequence + 1;
      const control = lane.ring.control;
      Atomics.store(control, Control.Published, lane.published);
      if (Atomics.load(control, Control.Sleeping) === 1) {
        Atomics.notify(control, Control.Published);
        this.#wakeups++;
      }
    }
    this.#armDoorbell();
  }

  #armDoorbell(): void {
    if (this.#inFlight() === 0) return;
    this.#armWatchdog();
    if (this.#watch === "polling") return;
    this.#watch = "polling";
    this.#pollingSince = performance.now();
    setImmediate(this.#poll);
  }

  readonly #poll = (): void => {
    if (this.#watch !== "polling") return;
    if (Atomics.load(this.#doorbell, Doorbell.Count) !== this.#doorbellSeen) {
      this.#onDoorbell();
    } else if (performance.now() - this.#pollingSince < this.#pollMicros / 1000) {
      setImmediate(this.#poll);
    } else {
      this.#watch = "parked";
      // Raised before waiting: a worker that finishes after this either sees it and notifies, or finished
      // before, in which case waitAsync sees a changed count and returns at once.
      Atomics.store(this.#doorbell, Doorbell.PoolParked, 1);
      if (this.#parked) return;
      const wait = waitAsync(this.#doorbell, Doorbell.Count, this.#doorbellSeen);
      if (!wait.async) {
        Atomics.store(this.#doorbell, Doorbell.PoolParked, 0);
        setImmediate(this.#onDoorbell);
        return;
      }
      this.#parked = true;
      wait.value.then(() => {
        this.#parked = false;
        if (this.#watch === "parked") this.#onDoorbell();
      });
    }
  };

  readonly #onDoorbell = (): void => {
    this.#watch = "idle";
    // Read before collecting: a slot finishing during the collect changes the word, so the next wait
    // returns at once instead of sleeping on a result that is already there.
    this.#doorbellSeen = Atomics.load(this.#doorbell, Doorbell.Count);
    for (const lane of this.#lanes) this.#collect(lane);
    this.#dispatch();
    if (this.#queue.length === 0 && this.#inFlight() === 0) {
      for (const resolve of this.#whenIdle.splice(0)) resolve();
    }
  };

  /** Settles the lane's finished slots in order. */
  #collect(lane: Lane): void {
    const completed = Atomics.load(lane.ring.control, Control.Completed);
    let trapped = false;
    while (lane.consumed < completed) {
      const sequence = lane.consumed;
      const pending = lane.pending[sequence % this.#queueDepth]!;
      lane.pending[sequence % this.#queueDepth] = undefined;
      const { outcome, message, moduleGeneration } = lane.ring.outcome(sequence);
      const version = this.#moduleVersions.get(moduleGeneration) ?? `generation ${moduleGeneration}`;
      switch (outcome) {
        case SlotOutcome.Ok:
          pending.resolve(lane.ring.readResult(sequence, version));
          break;
        case SlotOutcome.Trap:
          trapped = true;
          pending.reject(new KernelTrapError(`module ${version} trapped: ${message}; its worker is replaced`));
          break;
        case SlotOutcome.InventoryMismatch:
          pending.reject(new KernelInventoryMismatchError(message));
          break;
        case SlotOutcome.ModuleFailed:
          pending.reject(new KernelModuleError(`module ${version}: ${message}`));
          break;
        default:
          pending.reject(new KernelInputError(message));
      }
      lane.ring.release(sequence);
      lane.consumed++;
    }
    if (trapped) this.#replaceLane(lane, "trap");
  }

  /**
   * The timeout watchdog ticks every callTimeoutMs / 4 while anything is in flight and stops at the first tick that
   * finds nothing in flight, so a busy pool pays no timer per decision and an idle one no wake-ups.
   */
  #armWatchdog(): void {
    if (this.#watchdog !== undefined || this.#stopped) return;
    this.#watchdog = setInterval(() => this.#checkTimeouts(), Math.max(1, this.callTimeoutMs / 4));
    this.#watchdog.unref();
  }

  #checkTimeouts(): void {
    if (this.#inFlight() === 0) {
      clearInterval(this.#watchdog);
      this.#watchdog = undefined;
      return;
    }
    const now = performance.timeOrigin + performance.now();
    for (const lane of this.#lanes) {
      if (lane.inFlight === 0) continue;
      const running = Atomics.load(lane.ring.control, Control.Completed);
      if (running >= lane.published || lane.ring.state(running) !== SlotState.Running) continue;
      if (now - lane.ring.startedAt(running) > this.callTimeoutMs) this.#replaceLane(lane, "timeout");
    }
  }

  /**
   * Retires a lane: settles what finished, fails the decision that was running, requeues the rest at the
   * front of the queue, terminates the worker (piscina starts another) and starts a lane with a new ring
   * (the old thread may still write to the old one until it is gone).
   */
  #replaceLane(lane: Lane, cause: ReplaceCause, reason?: unknown): void {
    if (lane.replaced) return;
    lane.replaced = true;
    lane.ready = false;
    this.#replaced[cause]++;
    // Stop first: from here the worker starts no other slot, so anything not Queued below is the one it was on.
    Atomics.store(lane.ring.control, Control.Stop, 1);
    Atomics.notify(lane.ring.control, Control.Stop);
    if (cause !== "trap") this.#collect(lane);
    const version = this.moduleVersion;
    const requeue: PendingDecision[] = [];
    for (let sequence = lane.consumed; sequence < lane.published; sequence++) {
      const pending = lane.pending[sequence % this.#queueDepth]!;
      if (lane.ring.state(sequence) === SlotState.Queued) {
        requeue.push(pending);
      } else if (cause === "timeout") {
        pending.reject(
          new KernelTimeoutError(
            `decision exceeded ${this.callTimeoutMs} ms (module ${version}); its worker is replaced`,
          ),
        );
      } else {
        pending.reject(new KernelWorkerLostError(`kernel worker exited during the decision`, { cause: reason }));
      }
    }
    lane.consumed = lane.published;
    // A worker that dies spinning would keep the spin slot forever.
    Atomics.compareExchange(this.#doorbell, Doorbell.Spinner, lane.id, 0);
    lane.abort.abort(new Error(`kernel worker replaced after ${cause}`));
    lane.port.close();
    this.#queue.unshift(requeue);
    this.#lanes[this.#lanes.indexOf(lane)] = this.#startLane();
    this.#dispatch();
  }
}
