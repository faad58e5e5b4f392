/** What a KernelPool (kernel-pool.ts) is given and what it reports. */
import type { KernelCapacity } from "./kernel-inputs.ts";

export const DEFAULT_CAPACITY: KernelCapacity = { maxCandidates: 4096, maxDimensions: 256, maxAgents: 16 };

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
