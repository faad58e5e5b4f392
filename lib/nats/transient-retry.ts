import { JetStreamApiError } from "@nats-io/jetstream";
import { createLogger, type Logger } from "../log/logger.ts";

/** JetStream API codes that say "not now" rather than "no": the cluster is electing or catching up. */
const TRANSIENT_API_CODES = new Set([
  10008, // JetStream system temporarily unavailable
]);

/**
 * True for errors a JetStream call can meet while a cluster starts, loses a server or elects a stream leader:
 * a request timeout, no responders (no meta or stream leader yet: nats.js reports "jetstream is not enabled"),
 * "temporarily unavailable". Looks through `cause` chains (nats.js wraps a timeout in a RequestError).
 */
export function isTransientNatsError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof JetStreamApiError) return TRANSIENT_API_CODES.has(e.code);
    if (["TimeoutError", "NoResponders", "JetStreamNotEnabled"].includes(e.name)) return true;
    if (/\b(timeout|timed out|no responders|temporarily unavailable)\b/i.test(e.message)) return true;
  }
  return false;
}

export interface RetryOptions {
  logger?: Logger;
  /** Give up (rethrow the last error) once this much time has passed since the first attempt. */
  maxMs?: number;
  firstDelayMs?: number;
  maxDelayMs?: number;
}

let defaultLogger: Logger | undefined;

/**
 * Runs a start-up JetStream step (open a bucket, create a stream or consumer), trying again with exponential
 * backoff and a warning while it fails for a transient reason, for at most `maxMs` (default 60 s); other errors
 * and the last transient one are thrown (crash-only: the supervisor restarts the process). A fresh cluster
 * answers its first requests with timeouts and "no responders" while it elects its leaders.
 */
export async function retryTransient<T>(what: string, run: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { maxMs = 60_000, firstDelayMs = 250, maxDelayMs = 5_000 } = options;
  const started = Date.now();
  for (let attempt = 1, delay = firstDelayMs; ; attempt++, delay = Math.min(maxDelayMs, delay * 2)) {
    try {
      return await run();
    } catch (err) {
      if (!isTransientNatsError(err) || Date.now() - started + delay > maxMs) throw err;
      defaultLogger ??= createLogger(process.env.CHORUS_PROCESS_NAME ?? "chorus");
      (options.logger ?? defaultLogger).warn(
        { err: { name: (err as Error).name, message: (err as Error).message }, what, attempt, retryInMs: delay },
        "JetStream not ready; trying again",
      );
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
