/**
 * The piscina task a kernel worker runs for its whole life: serve one ring until told to stop.
 *
 * Piscina supervises the thread (start, replacement after terminate, execArgv); the hot path never touches
 * its message channel. Between decisions the loop spins briefly and then sleeps in Atomics.wait on the
 * ring's Published word, so the event loop never runs: module and inventory updates therefore arrive on a
 * dedicated MessagePort drained synchronously with receiveMessageOnPort, exactly when a slot says it needs
 * them (its control generation). That keeps a decision's inputs and the module that decides it consistent,
 * whatever piscina's own atomics mode (the pool sets it to 'disabled': this task never returns to piscina's
 * wait loop while serving).
 */
import { type MessagePort, receiveMessageOnPort, threadId } from "node:worker_threads";
import { checkRequest } from "./kernel-checks.ts";
import { KernelError, KernelInventoryMismatchError, KernelModuleError, KernelTrapError } from "./kernel-errors.ts";
import type { KernelCapacity, KernelInventory } from "./kernel-inputs.ts";
import type { KernelInstance } from "./kernel-instance.ts";
import { instantiateKernel } from "./kernel-loader.ts";
import { Control, Doorbell, KernelRing, ringDoorbell, SlotOutcome } from "./kernel-ring.ts";
import { ResidentInventories } from "./resident-inventories.ts";

export type ControlMessage =
  | { readonly type: "module"; readonly module: WebAssembly.Module; readonly generation: number }
  | { readonly type: "inventory"; readonly inventory: KernelInventory };

export interface ServeTask {
  readonly ring: SharedArrayBuffer;
  readonly depth: number;
  readonly capacity: KernelCapacity;
  /** Pool-wide doorbell (see Doorbell in kernel-ring.ts), rung after every finished slot. */
  readonly doorbell: SharedArrayBuffer;
  /** Control messages, in order; the worker posts its ReadyMessage on it once it can decide. */
  readonly port: MessagePort;
  readonly module: WebAssembly.Module;
  readonly moduleGeneration: number;
  /** Resident inventories, oldest first (see resident-inventories.ts), and how many to keep. */
  readonly inventories: readonly KernelInventory[];
  readonly residentInventories: number;
  /** Longest spin on the ring before sleeping (0 = sleep at once); see SpinPolicy. */
  readonly spinMicros: number;
  /** This lane's id in the doorbell's Spinner word (at most one idle worker of the pool spins). */
  readonly laneId: number;
}

export type ServeResult = "stopped" | "retired";

export interface ReadyMessage {
  readonly type: "ready";
  readonly threadId: number;
}

export default function serve(task: ServeTask): ServeResult {
  const ring = new KernelRing(task.capacity, task.depth, task.ring);
  const control = ring.control;
  const doorbell = new Int32Array(task.doorbell);
  let module = task.module;
  let moduleGeneration = task.moduleGeneration;
  const inventories = new ResidentInventories(task.residentInventories, task.inventories);
  // Made inside the first slot that needs it, after `begin`: `configure` is module code, and module code only
  // ever runs under a slot's time budget (a module whose configure never returns costs a decision, not a hang).
  let instance: KernelInstance | undefined;
  let appliedControl = 0;

  const apply = (message: ControlMessage): void => {
    if (message.type === "module") {
      module = message.module;
      moduleGeneration = message.generation;
      instance = undefined;
    } else {
      inventories.add(message.inventory);
    }
  };
  const kernel = (): KernelInstance => {
    try {
      const fresh = instantiateKernel(module, task.capacity);
      const latest = inventories.latest;
      if (latest !== undefined) fresh.setInventory(latest);
      return fresh;
    } catch (error) {
      throw error instanceof KernelModuleError ? error : new KernelModuleError(String(error), { cause: error });
    }
  };

  task.port.postMessage({ type: "ready", threadId } satisfies ReadyMessage);
  const spin = new SpinPolicy(task.spinMicros);
  let next = Atomics.load(control, Control.Completed);
  for (;;) {
    if (Atomics.load(control, Control.Stop) === 1) return "stopped";
    if (next === Atomics.load(control, Control.Published)) {
      waitForWork(control, doorbell, task.laneId, next, spin);
      continue;
    }

    ring.begin(next);
    const required = ring.controlGeneration(next);
    while (appliedControl < required) {
      const entry = receiveMessageOnPort(task.port);
      if (entry === undefined) break; // cannot happen: the pool posts before it publishes
      apply(entry.message as ControlMessage);
      appliedControl++;
    }

    let trapped = false;
    const request = ring.requestView(next);
    try {
      instance ??= kernel();
      if (instance.inventory?.version !== request.inventoryVersion) {
        const named = inventories.get(request.inventoryVersion);
        if (named !== undefined) instance.setInventory(named);
      }
      checkRequest(request, instance.inventory);
      instance.run(request);
      instance.readInto(ring.outputs(next), request.weights.length);
      ring.finish(next, SlotOutcome.Ok, moduleGeneration);
    } catch (error) {
      trapped = error instanceof KernelTrapError;
      const outcome = trapped
        ? SlotOutcome.Trap
        : error instanceof KernelInventoryMismatchError
          ? SlotOutcome.InventoryMismatch
          : error instanceof KernelModuleError
            ? SlotOutcome.ModuleFailed
            : SlotOutcome.Refused;
      const message = error instanceof KernelError || error instanceof Error ? error.message : String(error);
      ring.finish(next, outcome, moduleGeneration, message);
    }
    next++;
    Atomics.store(control, Control.Completed, next);
    ringDoorbell(doorbell);

    if (trapped) {
      // The instance may be in any state after a trap: take no more work and wait to be terminated.
      while (Atomics.load(control, Control.Stop) === 0) Atomics.wait(control, Control.Stop, 0);
      return "retired";
    }
  }
}

/** A spin that sees a gap this long between two of its clock reads was descheduled. */
const PREEMPTED_MS = 0.25;
/** Spinning stops for BACK_OFF_MS once more than this share of recent spin time was spent descheduled. */
const MAX_LOST_SHARE = 0.2;
const BACK_OFF_MS = 100;
/** Spin time over which the lost share is judged (older spins count less and less). */
const LOST_SHARE_HORIZON_MS = 20;

/**
 * How long an idle worker spins before sleeping, from the gaps it has just seen between going idle and the next
 * decision. A sleeping worker costs the next decision a futex wake-up (about 15 us on an idle core, far more
 * on a busy host, against a kernel of about 12 us), so under steady traffic it pays to spin through the typical
 * gap; but spinning through gaps longer than the traffic has shown burns a core for nothing. So: spin twice
 * the median of the last 8 gaps (at least 50 us), at most `maxMicros`, and not at all once the median exceeds
 * `maxMicros` (traffic slower than about 1 / maxMicros, or stopped: one last window at most, then sleep until
 * woken). And not at all for a while once the spins spend more than a fifth of their time descheduled: the host
 * is oversubscribed, a spinning worker only takes CPU from the thread that would publish the next decision, and
 * a decision that arrives while its spinner is descheduled waits for a time slice, where a sleeper woken by a
 * futex is scheduled at once. An occasional preemption (a light background load) does not stop spinning.
 */
export class SpinPolicy {
  readonly #maxMicros: number;
  readonly #gaps: Float64Array;
  readonly #sorted: Float64Array;
  #next = 0;
  #quietUntil = 0;
  /** Recent spin time and the part of it spent descheduled, ms, decayed together. */
  #spunMs = 0;
  #lostMs = 0;

  constructor(maxMicros: number, history = 8) {
    this.#maxMicros = maxMicros;
    // No traffic seen yet counts as long gaps: a new worker sleeps until decisions arrive often enough.
    this.#gaps = new Float64Array(history).fill(Number.POSITIVE_INFINITY);
    this.#sorted = new Float64Array(history);
  }

  /** An idle gap just ended (microseconds from going idle to seeing the next decision). */
  record(gapMicros: number): void {
    this.#gaps[this.#next] = gapMicros;
    this.#next = (this.#next + 1) % this.#gaps.length;
  }

  /** A spin ended at `now` (performance.now() ms) after `spunMs`, of which `lostMs` descheduled. */
  spun(now: number, spunMs: number, lostMs: number): void {
    this.#spunMs += spunMs;
    this.#lostMs += lostMs;
    if (this.#spunMs > LOST_SHARE_HORIZON_MS) {
      this.#spunMs /= 2;
      this.#lostMs /= 2;
    }
    if (this.#lostMs > MAX_LOST_SHARE * Math.max(this.#spunMs, LOST_SHARE_HORIZON_MS / 4)) {
      this.#quietUntil = now + BACK_OFF_MS;
      this.#spunMs = 0;
      this.#lostMs = 0;
    }
  }

  windowMicros(now: number): number {
    if (this.#maxMicros <= 0 || now < this.#quietUntil) return 0;
    this.#sorted.set(this.#gaps);
    this.#sorted.sort();
    const median = this.#sorted[(this.#sorted.length - 1) >> 1]!;
    if (median > this.#maxMicros) return 0;
    return Math.min(this.#maxMicros, Math.max(50, 2 * median));
  }
}

/**
 * Spin for the policy's window (a busy gateway publishes again soon), then sleep until notified. Only one idle
 * worker of the pool spins at a time (the doorbell's Spinner word): two spinners and the gateway's own thread
 * would oversubscribe a two-core host, and the pool sends work to a worker that is awake first.
 */
function waitForWork(
  control: Int32Array,
  doorbell: Int32Array,
  laneId: number,
  published: number,
  spin: SpinPolicy,
): void {
  const idleSince = performance.now();
  const windowMicros = spin.windowMicros(idleSince);
  if (windowMicros > 0 && Atomics.compareExchange(doorbell, Doorbell.Spinner, 0, laneId) === 0) {
    const until = idleSince + windowMicros / 1000;
    let arrived = false;
    let now = idleSince;
    let lost = 0;
    do {
      for (let i = 0; i < 256 && !arrived; i++) arrived = Atomics.load(control, Control.Published) !== published;
      const last = now;
      now = performance.now();
      if (now - last > PREEMPTED_MS) lost += now - last;
    } while (!arrived && now < until);
    Atomics.compareExchange(doorbell, Doorbell.Spinner, laneId, 0);
    spin.spun(now, now - idleSince, lost);
    if (arrived) {
      spin.record((now - idleSince) * 1000);
      return;
    }
  }
  Atomics.store(control, Control.Sleeping, 1);
  // The pool reads Sleeping after storing Published, so either it sees 1 and notifies, or this wait sees
  // the new Published and returns at once: no lost wake-up.
  Atomics.wait(control, Control.Published, published);
  Atomics.store(control, Control.Sleeping, 0);
  spin.record((performance.now() - idleSince) * 1000);
}
