import { createLatencyHistogram, type Histogram, recordSince } from "./latency-histogram.ts";

/**
 * Answers one request: `error` names what went wrong (status, timeout, reset), else `ads` is how many ads the
 * response carried (-1 when the target's responses are not decisions). A callback, not a promise: a promise and
 * its two closures per request are CPU the load client takes from the system it measures.
 */
export type Done = (error: string | undefined, ads: number) => void;
/** Sends one request and calls `done` exactly once when its response is complete or failed. */
export type Send = (done: Done) => void;

export interface OpenLoopOptions {
  /** Arrivals per second. */
  rate: number;
  durationMs: number;
  send: Send;
  /** The schedule starts this much later (ms): processes sharing a rate interleave their arrivals. */
  phaseMs?: number;
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
  /** Completed responses that carried at least one ad (decisions that sold), and the ads in all of them. */
  sold: number;
  ads: number;
}

/**
 * An open-loop generator (as wrk2 and k6's constant-arrival-rate): request i is due at start + i / rate whatever
 * happened to earlier requests, and its latency counts from that due time. A slow response therefore cannot delay
 * the next send and hide its own queueing (coordinated omission). The schedule is checked with a timer set to the
 * next due time rather than a busy loop: on two shared cores the client must leave the CPU to
 * the system under test; the lateness this causes is counted in the latencies, never hidden.
 */
export function runOpenLoop({
  rate,
  durationMs,
  send,
  phaseMs = 0,
  onProgress,
}: OpenLoopOptions): Promise<OpenLoopResult> {
  if (!(rate > 0) || !(durationMs > 0)) throw new RangeError("rate and durationMs must be positive");
  const latency = createLatencyHistogram();
  const sendLag = createLatencyHistogram();
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const periodMs = 1000 / rate;
  const errorSamples = new Set<string>();
  const start = performance.now() + phaseMs;
  let issued = 0;
  let completed = 0;
  let errors = 0;
  let sold = 0;
  let ads = 0;
  let lastProgress = start;

  return new Promise((resolve) => {
    const progress = (): OpenLoopProgress => ({ issued, completed, errors, elapsedMs: performance.now() - start });
    const finishIfDone = () => {
      if (issued === total && completed + errors === total)
        resolve({ ...progress(), latency, sendLag, errorSamples: [...errorSamples], sold, ads });
    };
    // One closure per request (it must remember its due time), nothing else allocated.
    const issue = (intended: number) =>
      send((error, count) => {
        if (error === undefined) {
          completed++;
          recordSince(latency, intended, performance.now());
          if (count > 0) {
            sold++;
            ads += count;
          }
        } else {
          errors++;
          if (errorSamples.size < 5) errorSamples.add(error);
        }
        finishIfDone();
      });
    const tick = () => {
      const now = performance.now();
      const due = now < start ? 0 : Math.min(total, Math.floor((now - start) / periodMs) + 1);
      while (issued < due) {
        const intended = start + issued * periodMs;
        issued++;
        recordSince(sendLag, intended, now);
        issue(intended);
      }
      if (onProgress && now - lastProgress >= 250) {
        lastProgress = now;
        onProgress(progress());
      }
      // Sleep until the next request is due (at most 250 ms, for progress): a timer per millisecond whatever the
      // rate would cost the client ~10% of a core at 100/s.
      if (issued < total) setTimeout(tick, Math.max(0, Math.min(250, start + issued * periodMs - performance.now())));
    };
    tick();
  });
}
