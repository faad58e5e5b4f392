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
import { Control, KernelRing, ringDoorbell, SlotOutcome } from "./kernel-ring.ts";

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
  readonly inventory: KernelInventory | undefined;
  /** How long to spin on the ring before sleeping (0 = sleep at once). */
  readonly spinMicros: number;
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
  let inventory = task.inventory;
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
      inventory = message.inventory;
      instance?.setInventory(inventory);
    }
  };
  const kernel = (): KernelInstance => {
    try {
      const fresh = instantiateKernel(module, task.capacity);
      if (inventory !== undefined) fresh.setInventory(inventory);
      return fresh;
    } catch (error) {
      throw error instanceof KernelModuleError ? error : new KernelModuleError(String(error), { cause: error });
    }
  };

  task.port.postMessage({ type: "ready", threadId } satisfies ReadyMessage);
  let next = Atomics.load(control, Control.Completed);
  for (;;) {
    if (Atomics.load(control, Control.Stop) === 1) return "stopped";
    if (next === Atomics.load(control, Control.Published)) {
      waitForWork(control, next, task.spinMicros);
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

/** Spin first (a busy gateway publishes again within microseconds), then sleep until notified. */
function waitForWork(control: Int32Array, published: number, spinMicros: number): void {
  if (spinMicros > 0) {
    const until = performance.now() + spinMicros / 1000;
    do {
      for (let i = 0; i < 256; i++) {
        if (Atomics.load(control, Control.Published) !== published) return;
      }
    } while (performance.now() < until);
  }
  Atomics.store(control, Control.Sleeping, 1);
  // The pool reads Sleeping after storing Published, so either it sees 1 and notifies, or this wait sees
  // the new Published and returns at once: no lost wake-up.
  Atomics.wait(control, Control.Published, published);
  Atomics.store(control, Control.Sleeping, 0);
}
