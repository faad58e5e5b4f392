/**
 * Runs the kernel for the gateway: in a piscina pool of workers (isolation: a runaway or trapping module
 * costs one decision and one worker, never the gateway), or inline on the calling thread for comparison.
 *
 * Pool mode, per worker ("lane"): one long-lived piscina task serves a shared-memory ring (kernel-ring.ts).
 * `decide` copies the request into a free slot and publishes it; every decision waiting when a worker comes
 * round is taken back to back, so waiting requests are batched without a postMessage per request. Workers
 * bump one shared doorbell word per finished slot, which the pool watches (doorbell-watch.ts). Candidate
 * features stay resident in each worker's kernel memory and are replaced only by `setInventory`;
 * `setModule` swaps the module in every worker at a decision boundary.
 *
 * Lane lifecycle: starting (serve task posted, worker loading) -> ready (worker posted "ready") -> replaced
 * (trap, timeout or unexpected exit: the piscina task is aborted, which terminates the thread and makes
 * piscina start another; the decision that failed is rejected, the ones still queued in the ring go back
 * to the front of the pool's queue, and a fresh lane with a fresh ring takes the lane's place) or stopped
 * (close).
 *
 * Inline mode runs the kernel on the calling thread (inline-kernel.ts). Options and stats: kernel-pool-options.ts;
 * the queue of waiting decisions: kernel-queue.ts; a worker's lane: kernel-lane.ts.
 */
import { MessageChannel } from "node:worker_threads";
import { Piscina } from "piscina";
import { DoorbellWatch } from "./doorbell-watch.ts";
import { InlineKernel } from "./inline-kernel.ts";
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
import { Lane, workerEntry } from "./kernel-lane.ts";
import { compileKernel } from "./kernel-loader.ts";
import { DEFAULT_CAPACITY, type KernelPoolOptions, type KernelPoolStats } from "./kernel-pool-options.ts";
import { DecisionQueue, type PendingDecision } from "./kernel-queue.ts";
import { Control, Doorbell, KernelRing, SlotOutcome, SlotState } from "./kernel-ring.ts";
import type { ControlMessage, ReadyMessage, ServeResult, ServeTask } from "./kernel-worker.ts";
import { DEFAULT_RESIDENT_INVENTORIES, ResidentInventories } from "./resident-inventories.ts";

export { DEFAULT_CAPACITY, type KernelPoolOptions, type KernelPoolStats } from "./kernel-pool-options.ts";

const MAX_STARTUP_FAILURES = 3;

type ReplaceCause = "trap" | "timeout" | "lost";

export class KernelPool {
  readonly mode: "pool" | "inline";
  readonly size: number;
  readonly capacity: KernelCapacity;
  readonly callTimeoutMs: number;
  readonly #queueDepth: number;
  readonly #spinMicros: number;
  #module: WebAssembly.Module;
  #moduleGeneration = 0;
  readonly #moduleVersions = new Map<number, string>();
  readonly #inventories: ResidentInventories;
  /** Inline mode only. */
  #inline: InlineKernel | undefined;

  readonly #piscina: Piscina | undefined;
  readonly #lanes: Lane[] = [];
  /** Lane ids start at 1: 0 in the doorbell's Spinner word means no worker spins. */
  #laneIds = 0;
  readonly #queue = new DecisionQueue();
  /** How the pool learns that slots finished. */
  readonly #doorbell: DoorbellWatch;
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
    this.#doorbell = new DoorbellWatch(options.pollMicros ?? 200, this.#onDoorbell);
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
      this.#inline = new InlineKernel(this.#module, this.capacity, this.#inventories);
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
      replacedWorkers: { ...this.#replaced, trap: this.#replaced.trap + (this.#inline?.traps ?? 0) },
      wakeups: this.#wakeups,
    };
  }

  /** How many inventories stay resident (the last added). */
  get residentLimit(): number {
    return this.#inventories.limit;
  }

  /**
   * Makes `inventory` resident everywhere, beside the ones added before (the oldest beyond `residentInventories`
   * are dropped); decisions may name any resident version.
   */
  setInventory(inventory: KernelInventory): void {
    this.#assertOpen();
    checkInventory(inventory, this.capacity);
    this.#inventories.add(inventory);
    this.#inline?.setInventory(inventory);
    this.#broadcast({ type: "inventory", inventory });
  }

  /**
   * Validates and activates another module. Every decision made after this call runs on it; decisions
   * already in a worker's ring may run on either, and each result names the version it used.
   */
  setModule(version: string, bytes: Uint8Array): void {
    this.#assertOpen();
    const module = compileKernel(bytes);
    this.#inline?.setModule(module);
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
    if (this.#inline !== undefined) return this.#inline.decide(request, this.moduleVersion);
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
    this.#doorbell.release();
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
      doorbell: this.#doorbell.words.buffer as SharedArrayBuffer,
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
    this.#doorbell.arm();
  }

  readonly #onDoorbell = (): void => {
    for (const lane of this.#lanes) this.#collect(lane);
    this.#dispatch();
    this.#resolveIfIdle();
  };

  /** Wakes close() once nothing is queued or in flight (after a doorbell, or a lane replaced with its decisions). */
  #resolveIfIdle(): void {
    if (this.#queue.length === 0 && this.#inFlight() === 0) {
      for (const resolve of this.#whenIdle.splice(0)) resolve();
    }
  }

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
    Atomics.compareExchange(this.#doorbell.words, Doorbell.Spinner, lane.id, 0);
    lane.abort.abort(new Error(`kernel worker replaced after ${cause}`));
    lane.port.close();
    this.#queue.unshift(requeue);
    this.#lanes[this.#lanes.indexOf(lane)] = this.#startLane();
    this.#dispatch();
    // A timeout during close() fails the last decision in flight: nothing rings the doorbell after that.
    this.#resolveIfIdle();
  }
}
