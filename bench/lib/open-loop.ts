import { createLatencyHistogram, type Histogram, recordSince } from "./latency-histogram.ts";

/** Sends one request; resolves when the response is complete, rejects on any error (status, timeout, reset). */
export type Send = () => Promise<void>;

export interface OpenLoopOptions {
  /** Arrivals per second. */
  rate: number;
  durationMs: number;
  send: Send;
  /** Called about every 250 ms while running. */
  onProgress?: (progress: OpenLoopProgress) => void;
}

export interface OpenLoopProgress {
  issued: number;
  completed: number;
  errors: number;
  elapsedMs: number;
}

export interface OpenLoopResult extends OpenLoopProgress {
  /** Response time measured from the *intended* send time (includes any queueing, client or server side). */
  latency: Histogram;
  /** How late the client issued each request against its schedule: shows whether the client kept up. */
  sendLag: Histogram;
  /** Up to 5 distinct error messages, to tell a timeout from a status. */
  errorSamples: string[];
}

/**
 * An open-loop generator (as wrk2 and k6's constant-arrival-rate): request i is due at start + i / rate whatever
 * happened to earlier requests, and its latency counts from that due time. A slow response therefore cannot delay
 * the next send and hide its own queueing (coordinated omission). The schedule is checked every millisecond with
 * a timer rather than a busy loop: on two shared cores the client must leave the CPU to the system under test;
 * the up-to-1 ms batching this causes is counted in the latencies, never hidden.
 */
export function runOpenLoop({ rate, durationMs, send, onProgress }: OpenLoopOptions): Promise<OpenLoopResult> {
  if (!(rate > 0) || !(durationMs > 0)) throw new RangeError("rate and durationMs must be positive");
  const latency = createLatencyHistogram();
  const sendLag = createLatencyHistogram();
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const periodMs = 1000 / rate;
  const errorSamples = new Set<string>();
  const start = performance.now();
  let issued = 0;
  let completed = 0;
  let errors = 0;
  let lastProgress = start;

  return new Promise((resolve) => {
    const progress = (): OpenLoopProgress => ({
      issued,
      completed,
      errors,
      elapsedMs: performance.now() - start,
    });
    const finishIfDone = () => {
      if (issued === total && completed + errors === total) {
        resolve({ ...progress(), latency, sendLag, errorSamples: [...errorSamples] });
      }
    };
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / periodMs) + 1);
      while (issued < due) {
        const intended = start + issued * periodMs;
        issued++;
        recordSince(sendLag, intended, now);
        send().then(
          () => {
            completed++;
            recordSince(latency, intended, performance.now());
            finishIfDone();
          },
          (err: unknown) => {
            errors++;
            if (errorSamples.size < 5) errorSamples.add(err instanceof Error ? err.message : String(err));
            finishIfDone();
          },
        );
      }
      if (onProgress && now - lastProgress >= 250) {
        lastProgress = now;
        onProgress(progress());
      }
      if (issued < total) setTimeout(tick, Math.max(0, Math.min(1, start + issued * periodMs - performance.now())));
    };
    tick();
  });
}
