import { existsSync } from "node:fs";
import type { MessagePort } from "node:worker_threads";
import type { PendingDecision } from "./kernel-queue.ts";
import { Control, type KernelRing } from "./kernel-ring.ts";

/**
 * One worker of the kernel pool and its shared-memory ring (lifecycle in kernel-pool.ts): what it was given
 * (published), what it answered (consumed), and the decisions in its slots.
 */
export class Lane {
  readonly id: number;
  readonly ring: KernelRing;
  readonly port: MessagePort;
  readonly abort = new AbortController();
  readonly pending: (PendingDecision | undefined)[];
  ready = false;
  threadId = -1;
  replaced = false;
  published = 0;
  consumed = 0;
  controlGeneration = 0;

  constructor(id: number, ring: KernelRing, port: MessagePort) {
    this.id = id;
    this.ring = ring;
    this.port = port;
    this.pending = new Array<PendingDecision | undefined>(ring.depth).fill(undefined);
  }

  get inFlight(): number {
    return this.published - this.consumed;
  }

  /**
   * Dispatch cost: decisions ahead, plus 2 if the worker sleeps, since waking it (about 15 us, more on a busy
   * host) costs about as much as waiting for one or two decisions (about 12 us each) on a worker that is awake.
   */
  get load(): number {
    return this.inFlight + (Atomics.load(this.ring.control, Control.Sleeping) === 1 ? 2 : 0);
  }
}

/** piscina needs a file it can load: the compiled .js beside this file, else the .ts source through tsx. */
export function workerEntry(): { filename: string; execArgv: string[] | undefined } {
  const compiled = new URL("./kernel-worker.js", import.meta.url);
  if (existsSync(compiled)) return { filename: compiled.href, execArgv: undefined };
  const tsxLoaded = process.execArgv.some((arg) => arg.includes("tsx"));
  return {
    filename: new URL("./kernel-worker.ts", import.meta.url).href,
    execArgv: tsxLoaded ? undefined : ["--import", "tsx"],
  };
}
