import { arrivalSchedule } from "./arrival-schedule.ts";
import { CallTally } from "./call-tally.ts";
import type { Histogram } from "./latency-histogram.ts";

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
  /** Ramp the rate from a tenth to all of it over this long first (arrival-schedule.ts). */
  rampMs?: number;
  /** Called about every 250 ms while running. */
  onProgress?: (progress: OpenLoopProgress) => void;
  /**
   * With `onWindow`: every `windowMs` from the start, the calls settled in that window (and once more at the end,
   * for those settled after the last full window): a long step reported minute by minute without pausing the
   * schedule between minutes (a pause would let an overloaded server drain and hide its backlog).
   */
  windowMs?: number;
  onWindow?: (window: OpenLoopResult, index: number) => void;
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
  /** Time to the refusal of calls the server refused (call-tally.ts isRefusal), from their intended send time. */
  refusals: Histogram;
  /** Calls that ran out of the sender's deadline. */
  timeouts: number;
  /** Failures by reason ("grpc-status 8", "timeout", ...). */
  errorCounts: Record<string, number>;
}

const resultOf = (t: CallTally, elapsedMs: number): OpenLoopResult => ({
  issued: t.issued,
  completed: t.completed,
  errors: t.errors,
  elapsedMs,
  latency: t.latency,
  sendLag: t.sendLag,
  errorSamples: [...t.errorSamples],
  sold: t.sold,
  ads: t.ads,
  refusals: t.refusals,
  timeouts: t.timeouts,
  errorCounts: t.errorCounts,
});

/**
 * An open-loop generator (as wrk2 and k6's constant-arrival-rate): request i is due at its scheduled time whatever
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
  rampMs = 0,
  onProgress,
  windowMs,
  onWindow,
}: OpenLoopOptions): Promise<OpenLoopResult> {
  if (!(rate > 0) || !(durationMs > 0)) throw new RangeError("rate and durationMs must be positive");
  const schedule = arrivalSchedule(rate, durationMs, rampMs);
  const total = schedule.total;
  const all = new CallTally();
  const windowed = onWindow !== undefined && windowMs !== undefined && windowMs > 0;
  let window = new CallTally();
  let windows = 0;
  const start = performance.now() + phaseMs;
  let lastProgress = start;

  return new Promise((resolve) => {
    const progress = (): OpenLoopProgress => ({
      issued: all.issued,
      completed: all.completed,
      errors: all.errors,
      elapsedMs: performance.now() - start,
    });
    const closeWindow = (elapsedMs: number) => {
      const closed = window;
      window = new CallTally();
      onWindow?.(resultOf(closed, elapsedMs), windows++);
    };
    // Windows are timed from the start, not chained off each other, so they do not drift over an hour.
    let windowTimer: NodeJS.Timeout | undefined;
    const armWindow = () => {
      windowTimer = setTimeout(
        () => {
          closeWindow(windowMs!);
          armWindow();
        },
        Math.max(0, start + (windows + 1) * windowMs! - performance.now()),
      );
    };
    if (windowed) armWindow();
    const finishIfDone = () => {
      if (all.issued !== total || all.completed + all.errors !== total) return;
      clearTimeout(windowTimer);
      // The last, partial window: calls settled after the last full one (the schedule's tail and its timeouts).
      if (windowed) closeWindow(performance.now() - start - windows * windowMs!);
      resolve(resultOf(all, performance.now() - start));
    };
    // One closure per request (it must remember its due time), nothing else allocated.
    const issue = (intended: number) =>
      send((error, count) => {
        const now = performance.now();
        all.settle(intended, now, error, count);
        // Counted in the window it settles in (as the soak's own load counts), whichever it was sent in.
        if (windowed) window.settle(intended, now, error, count);
        finishIfDone();
      });
    const tick = () => {
      const now = performance.now();
      const due = now < start ? 0 : Math.min(total, Math.floor(schedule.arrivals(now - start)) + 1);
      while (all.issued < due) {
        const intended = start + schedule.at(all.issued);
        all.issue(intended, now);
        if (windowed) window.issue(intended, now);
        issue(intended);
      }
      if (onProgress && now - lastProgress >= 250) {
        lastProgress = now;
        onProgress(progress());
      }
      // Sleep until the next request is due (at most 250 ms, for progress): a timer per millisecond whatever the
      // rate would cost the client ~10% of a core at 100/s.
      if (all.issued < total)
        setTimeout(tick, Math.max(0, Math.min(250, start + schedule.at(all.issued) - performance.now())));
    };
    tick();
  });
}
