import { createLatencyHistogram, type Histogram, recordSince } from "./latency-histogram.ts";

/**
 * Failures that are the server refusing work it will not do, as a gRPC client sees them: RESOURCE_EXHAUSTED (8)
 * and UNAVAILABLE (14), their Connect equivalents (HTTP 429, 503), and a stream refused at the HTTP/2 level
 * (REFUSED_STREAM, reset 7), which gRPC clients report as UNAVAILABLE. Under overload their latency is the point:
 * a refusal that takes as long as an answer saves the caller nothing.
 */
export function isRefusal(error: string): boolean {
  return (
    error === "grpc-status 8" ||
    error === "grpc-status 14" ||
    error === "reset 7" ||
    error === "http 429" ||
    error === "http 503"
  );
}

/** What the senders call a request that ran out of its deadline (both clients cancel it with this reason). */
export const TIMEOUT = "timeout";

/** The counts and histograms of a stretch of an open loop (the whole step, or one window of it). */
export class CallTally {
  issued = 0;
  completed = 0;
  errors = 0;
  sold = 0;
  ads = 0;
  timeouts = 0;
  /** Response time of answered calls from their intended send time, µs. */
  readonly latency: Histogram = createLatencyHistogram();
  readonly sendLag: Histogram = createLatencyHistogram();
  /** Time to the refusal of refused calls (isRefusal), from their intended send time, µs. */
  readonly refusals: Histogram = createLatencyHistogram();
  /** Failures by reason ("grpc-status 8", "timeout", "reset 7", ...). */
  readonly errorCounts: Record<string, number> = {};
  /** Up to 5 distinct reasons, in the order first seen. */
  readonly errorSamples = new Set<string>();

  issue(intended: number, now: number): void {
    this.issued++;
    recordSince(this.sendLag, intended, now);
  }

  settle(intended: number, now: number, error: string | undefined, ads: number): void {
    if (error === undefined) {
      this.completed++;
      recordSince(this.latency, intended, now);
      if (ads > 0) {
        this.sold++;
        this.ads += ads;
      }
      return;
    }
    this.errors++;
    this.errorCounts[error] = (this.errorCounts[error] ?? 0) + 1;
    if (this.errorSamples.size < 5) this.errorSamples.add(error);
    if (error === TIMEOUT) this.timeouts++;
    else if (isRefusal(error)) recordSince(this.refusals, intended, now);
  }
}
