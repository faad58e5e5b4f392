import { Counter } from "prom-client";
import type { Logger } from "../log/logger.ts";

/**
 * Messages a consumer skipped because it could not decode them or they held out-of-range values: counted
 * (`chorus_bad_messages_total{consumer,reason}`, registered in each process's registry by telemetry/metrics.ts)
 * and logged with subject and stream sequence. A bad message is never retried: one undecodable message must not
 * stop a consumer, nor make it restart in a loop.
 */
export type BadMessageReason = "undecodable" | "out_of_range";

export const badMessagesCounter = new Counter({
  name: "chorus_bad_messages_total",
  help: "Messages skipped by a consumer (undecodable or holding out-of-range values), by consumer and reason",
  labelNames: ["consumer", "reason"] as const,
  registers: [],
});

export interface BadMessage {
  /** Who skipped it: `ledger`, `budget`, `catalog-view`, `agent:intent`, `gateway:mirror:bidding`, ... */
  consumer: string;
  subject: string;
  /** Stream sequence (JetStream consumers, KV revisions). */
  seq?: number;
  reason: BadMessageReason;
  detail: string;
}

/** Per consumer, the in-process count (tests and `counts()` read it; the metric is the operator's view). */
const counts = new Map<string, number>();
/** Logs at most this many bad messages per consumer and second: a flood of garbage must not flood the logs. */
const LOG_PER_SECOND = 10;
const logWindow = new Map<string, { second: number; logged: number; suppressed: number }>();

export function reportBadMessage(log: Logger, bad: BadMessage): void {
  badMessagesCounter.inc({ consumer: bad.consumer, reason: bad.reason });
  counts.set(bad.consumer, (counts.get(bad.consumer) ?? 0) + 1);
  const second = Math.floor(Date.now() / 1000);
  let window = logWindow.get(bad.consumer);
  if (!window || window.second !== second) {
    if (window?.suppressed)
      log.warn({ consumer: bad.consumer, suppressed: window.suppressed }, "more bad messages skipped (not logged)");
    window = { second, logged: 0, suppressed: 0 };
    logWindow.set(bad.consumer, window);
  }
  if (window.logged >= LOG_PER_SECOND) {
    window.suppressed++;
    return;
  }
  window.logged++;
  log.warn(
    { consumer: bad.consumer, subject: bad.subject, seq: bad.seq, reason: bad.reason, detail: bad.detail },
    "bad message skipped",
  );
}

/** Bad messages skipped in this process, per consumer. */
export function badMessageCounts(): ReadonlyMap<string, number> {
  return counts;
}

/** The error's message, short (a decode error's text names the field or the wire problem). */
export function describeError(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 300);
}
