/**
 * One agent scoring module version running in its own worker thread, called synchronously with a time limit.
 *
 * Why a worker: module code must be stoppable. A wasm loop on the calling thread cannot be interrupted, and a
 * vm timeout costs ~58 µs per call; here the caller writes the input into a SharedArrayBuffer, flips a state
 * word and waits on it (`Atomics.wait` with the remaining budget; Node allows it on the main thread). The
 * worker spins briefly between calls while they come close together, else sleeps in `Atomics.wait`. A call
 * that traps, returns a bad status or passes the time limit fails alone; the worker is then terminated (even
 * inside a wasm loop) and a new one started, with fresh memory. While it starts, calls answer "unavailable" at once (the caller falls back).
 *
 * Shared buffer: Int32 control words, then f64 input (context, features) and f64 output (confidence, scores,
 * extra), exactly the module's own regions (agent-scoring-abi.ts).
 */
import { Worker } from "node:worker_threads";
import type { ScoringLayout } from "./agent-scoring-abi.ts";

export type ScoringOutcome = "ok" | "error" | "timeout" | "unavailable";

export interface AgentScoringLaneOptions {
  readonly bytes: Uint8Array;
  readonly layout: ScoringLayout;
  /** Largest candidate set a call may carry. */
  readonly capacity: number;
  /** Time limit of one call, ms. */
  readonly callTimeoutMs: number;
  /** A call after which module memory is larger than this fails, and the worker is replaced (fresh memory). */
  readonly maxMemoryBytes?: number;
  /** Time limit of a worker start (instantiate + configure), ms. */
  readonly startTimeoutMs?: number;
  /**
   * The worker spins up to this long after a call before it sleeps, µs (default 50), but only while calls come
   * closer together than that: spinning costs a core on a busy host.
   */
  readonly spinUs?: number;
}

const STATE = 0;
const COUNT = 1;
const STATUS = 2;
const PAGES = 3;
const CONTROL_BYTES = 64;
/** Polls of the state word before the caller sleeps: a call usually ends within a few of them. */
const MAIN_SPIN = 200;
const REQUEST = 1;
/** Set by the worker: DONE, or 3 when the call failed (trap or a non-zero status). */
const DONE = 2;

/** Views over the current worker's shared buffer (a replaced worker gets a new buffer). */
export interface ScoringBuffers {
  readonly context: Float64Array;
  readonly features: Float64Array;
  /** [confidence, scores[capacity], extra[capacity]] */
  readonly output: Float64Array;
}

interface Thread {
  readonly worker: Worker;
  readonly control: Int32Array;
  readonly buffers: ScoringBuffers;
  threadId: number;
}

export class AgentScoringLane {
  #thread: Thread | undefined;
  #starting: Promise<void> | undefined;
  #closed = false;
  /** Workers started after a failure. */
  replacements = 0;
  lastError = "";

  private constructor(private readonly options: AgentScoringLaneOptions) {}

  /** Starts the first worker; rejects when the module does not instantiate or configure within the limit. */
  static async start(options: AgentScoringLaneOptions): Promise<AgentScoringLane> {
    const lane = new AgentScoringLane(options);
    lane.#thread = await lane.#spawn();
    return lane;
  }

  get capacity(): number {
    return this.options.capacity;
  }

  /** The worker's thread id (changes when the worker is replaced); 0 while none runs. */
  get threadId(): number {
    return this.#thread?.threadId ?? 0;
  }

  /** Where to write the input of the next call and read its output; undefined while no worker is ready. */
  get buffers(): ScoringBuffers | undefined {
    return this.#thread?.buffers;
  }

  /** Module memory in bytes after the last call. */
  get memoryBytes(): number {
    return (this.#thread?.control[PAGES] ?? 0) * 65_536;
  }

  /** True while a call (e.g. an asynchronous one) is running. */
  get busy(): boolean {
    const t = this.#thread;
    return t !== undefined && Atomics.load(t.control, STATE) === REQUEST;
  }

  /** Scores `n` candidates whose input is in `buffers`; blocks the calling thread for at most the time limit. */
  call(n: number): ScoringOutcome {
    const t = this.#post(n);
    if (!t) return "unavailable";
    const deadline = performance.now() + this.options.callTimeoutMs;
    // A short spin: most calls end in a few microseconds, sooner than a futex wake-up.
    for (let i = 0; i < MAIN_SPIN && Atomics.load(t.control, STATE) === REQUEST; i++);
    while (Atomics.load(t.control, STATE) === REQUEST) {
      const left = deadline - performance.now();
      if (left <= 0) return this.#fail(t, "timeout", `no answer within ${this.options.callTimeoutMs} ms`);
      Atomics.wait(t.control, STATE, REQUEST, left);
    }
    return this.#finish(t);
  }

  /** The same call without blocking (shadow runs): resolves when the worker answers or the limit passes. */
  async callAsync(n: number): Promise<ScoringOutcome> {
    const t = this.#post(n);
    if (!t) return "unavailable";
    const deadline = performance.now() + this.options.callTimeoutMs;
    // Waits again while the call is still running, as `call` does: a wake-up is not an answer (one seen in CI
    // resolved while the state still said REQUEST, and the call read as a failure with status 0).
    while (Atomics.load(t.control, STATE) === REQUEST) {
      const left = deadline - performance.now();
      if (left <= 0) return this.#fail(t, "timeout", `no answer within ${this.options.callTimeoutMs} ms`);
      await waitAsync(t.control, STATE, REQUEST, left).value;
    }
    return this.#finish(t);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const t = this.#thread;
    this.#thread = undefined;
    await this.#starting?.catch(() => {});
    if (t) await t.worker.terminate();
    if (this.#thread) await (this.#thread as Thread).worker.terminate();
  }

  #post(n: number): Thread | undefined {
    const t = this.#thread;
    if (!t || n > this.options.capacity || Atomics.load(t.control, STATE) === REQUEST) return undefined;
    t.control[COUNT] = n;
    Atomics.store(t.control, STATE, REQUEST);
    Atomics.notify(t.control, STATE);
    return t;
  }

  #finish(t: Thread): ScoringOutcome {
    const memory = t.control[PAGES]! * 65_536;
    const limit = this.options.maxMemoryBytes;
    if (limit !== undefined && memory > limit)
      return this.#fail(t, "error", `module memory grew to ${memory} bytes (limit ${limit})`);
    if (Atomics.load(t.control, STATE) === DONE) return "ok";
    return this.#fail(t, "error", `module failed: status ${t.control[STATUS]}`);
  }

  /** The worker served its last call: terminate it and start another in the background. */
  #fail(t: Thread, outcome: "error" | "timeout", detail: string): ScoringOutcome {
    this.lastError = detail;
    if (this.#thread === t) {
      this.#thread = undefined;
      void t.worker.terminate();
      if (!this.#closed && !this.#starting) {
        this.replacements++;
        this.#starting = this.#spawn()
          .then((next) => {
            if (this.#closed) void next.worker.terminate();
            else this.#thread = next;
          })
          .catch((err: unknown) => {
            this.lastError = `worker restart failed: ${(err as Error).message}`;
          })
          .finally(() => {
            this.#starting = undefined;
          });
      }
    }
    return outcome;
  }

  #spawn(): Promise<Thread> {
    const { layout, capacity } = this.options;
    const inputLength = layout.context + capacity * layout.features;
    const sab = new SharedArrayBuffer(CONTROL_BYTES + (inputLength + 1 + 2 * capacity) * 8);
    const control = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    const buffers: ScoringBuffers = {
      context: new Float64Array(sab, CONTROL_BYTES, layout.context),
      features: new Float64Array(sab, CONTROL_BYTES + layout.context * 8, capacity * layout.features),
      output: new Float64Array(sab, CONTROL_BYTES + inputLength * 8, 1 + 2 * capacity),
    };
    const worker = new Worker(`(${serve.toString()})()`, {
      eval: true,
      workerData: {
        sab,
        bytes: this.options.bytes,
        contextLength: layout.context,
        features: layout.features,
        capacity,
        spinUs: this.options.spinUs ?? 50,
      },
    });
    worker.unref();
    const startTimeoutMs = this.options.startTimeoutMs ?? 2_000;
    return new Promise<Thread>((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`module did not start within ${startTimeoutMs} ms`));
      }, startTimeoutMs);
      worker.once("message", (m: { ready?: boolean; error?: string; threadId: number }) => {
        clearTimeout(timer);
        if (m.ready) resolve({ worker, control, buffers, threadId: m.threadId });
        else {
          void worker.terminate();
          reject(new Error(m.error ?? "module did not start"));
        }
      });
      worker.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }
}

/** Atomics.waitAsync (Node >= 16; typed from lib es2024 on, which this project's target predates). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      array: Int32Array,
      index: number,
      value: number,
      timeoutMs: number,
    ): { async: boolean; value: "ok" | "not-equal" | "timed-out" | Promise<"ok" | "timed-out"> };
  }
).waitAsync;

/**
 * The worker's whole program (evaluated from its source text, so it needs no loader and starts in milliseconds):
 * instantiate, configure, then serve calls forever. Self-contained: it may reference nothing outside itself.
 */
function serve(): void {
  const { parentPort, workerData, threadId } = require("node:worker_threads") as typeof import("node:worker_threads");
  const { sab, bytes, contextLength, features, capacity, spinUs } = workerData as {
    sab: SharedArrayBuffer;
    bytes: Uint8Array;
    contextLength: number;
    features: number;
    capacity: number;
    spinUs: number;
  };
  const inputLength = contextLength + capacity * features;
  const control = new Int32Array(sab, 0, 16);
  const shared = new Float64Array(sab, 64);
  let exports: {
    memory: WebAssembly.Memory;
    configure(n: number): number;
    input(): number;
    output(): number;
    score(n: number): number;
  };
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {});
    exports = instance.exports as unknown as typeof exports;
    const status = exports.configure(capacity);
    if (status !== 0) throw new Error(`configure(${capacity}) returned status ${status}`);
  } catch (err) {
    parentPort!.postMessage({ ready: false, error: (err as Error).message, threadId });
    return;
  }
  parentPort!.postMessage({ ready: true, threadId });
  const outputLength = 1 + 2 * capacity;
  let lastGapMs = Number.POSITIVE_INFINITY;
  for (;;) {
    // Adaptive: spin (up to spinUs) only while calls come closer together than that; at lower rates a spin
    // would never catch the next call and only burn a core, so the worker sleeps at once.
    const idleFrom = performance.now();
    const spinUntil = idleFrom + (lastGapMs * 1000 < spinUs ? spinUs / 1000 : 0);
    let state = Atomics.load(control, 0);
    while (state !== 1) {
      if (performance.now() >= spinUntil) Atomics.wait(control, 0, state);
      state = Atomics.load(control, 0);
    }
    lastGapMs = performance.now() - idleFrom;
    let outcome = 3;
    try {
      // Only what this call uses: the context and n rows in; confidence, n scores and n extras out.
      const n = control[1]!;
      const used = contextLength + n * features;
      new Float64Array(exports.memory.buffer, exports.input(), used).set(shared.subarray(0, used));
      const status = exports.score(n);
      control[2] = status;
      if (status === 0) {
        const out = new Float64Array(exports.memory.buffer, exports.output(), outputLength);
        shared.set(out.subarray(0, 1 + n), inputLength);
        shared.set(out.subarray(1 + capacity, 1 + capacity + n), inputLength + 1 + capacity);
        outcome = 2;
      }
    } catch {
      control[2] = -100; // trapped
    }
    control[3] = exports.memory.buffer.byteLength / 65_536;
    Atomics.store(control, 0, outcome);
    Atomics.notify(control, 0);
  }
}
