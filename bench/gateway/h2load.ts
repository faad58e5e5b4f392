import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createLatencyHistogram, type LatencySummary, summarize } from "../lib/latency-histogram.ts";

const run = promisify(execFile);

export interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** Total arrival rate, spread over the clients (h2load's --rps is per client). */
  rps: number;
  clients: number;
  durationSeconds: number;
}

export interface LoadResult {
  requests: number;
  /** Responses with an HTTP status other than 200. */
  failures: number;
  achievedRps: number;
  /** Milliseconds, from h2load's per-request log (request start to response end). */
  latency: LatencySummary;
}

/**
 * Open-loop load with h2load (nghttp2): each client starts requests at a fixed rate (--rps) whether or not earlier
 * ones finished (up to 64 streams per connection), for a fixed duration. Latencies come from h2load's
 * per-request log into an HDR histogram.
 */
export async function h2load(spec: LoadSpec): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "chorus-h2load-"));
  try {
    const bodyFile = join(dir, "body");
    const logFile = join(dir, "log");
    writeFileSync(bodyFile, spec.body);
    const args = [
      "-c",
      String(spec.clients),
      "-m",
      "64",
      "--rps",
      String(Math.max(1, Math.round(spec.rps / spec.clients))),
      "-D",
      String(spec.durationSeconds),
      "-d",
      bodyFile,
      "--log-file",
      logFile,
      ...Object.entries(spec.headers).flatMap(([name, value]) => ["-H", `${name}: ${value}`]),
      spec.url,
    ];
    await run("h2load", args, { maxBuffer: 16 * 1024 * 1024 });
    const histogram = createLatencyHistogram();
    let requests = 0;
    let failures = 0;
    for (const line of readFileSync(logFile, "utf8").split("\n")) {
      if (!line) continue;
      const [, status, micros] = line.split("\t");
      requests++;
      if (status !== "200") failures++;
      histogram.recordValue(Math.max(1, Number(micros)));
    }
    return { requests, failures, achievedRps: requests / spec.durationSeconds, latency: summarize(histogram) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
