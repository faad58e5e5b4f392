import type { Http2UnaryTarget, Shard } from "./http2-unary-target.ts";
import type { NatsScatterTarget } from "./nats-scatter-sender.ts";
import type { OpenLoopProgress } from "./open-loop.ts";

/** Messages between a benchmark and its load client processes (node IPC). */
export type LoadTarget = Http2UnaryTarget | NatsScatterTarget;

export interface RunStep {
  type: "run";
  id: number;
  target: LoadTarget;
  /** This process's share of the arrival rate. */
  rate: number;
  durationMs: number;
  /** This process's place among the processes sharing the step (request numbering, phase of the schedule). */
  shard: Shard;
  /** Ramp the rate from a tenth to all of it over this long first. */
  rampMs?: number;
  /** Report the calls settled in each window of this length as it closes (a `window` reply), the last one partial. */
  windowMs?: number;
}

export interface StepOutcome extends OpenLoopProgress {
  /** Compressed HdrHistograms (µs). */
  latency: string;
  sendLag: string;
  refusals: string;
  errorSamples: string[];
  sold: number;
  ads: number;
  timeouts: number;
  errorCounts: Record<string, number>;
}

export type ClientReply =
  | { type: "progress"; id: number; progress: OpenLoopProgress }
  | { type: "window"; id: number; index: number; outcome: StepOutcome }
  /** Messages of answers with ads since the last such reply (base64), for a target with `returnSold`. */
  | { type: "sold"; id: number; messages: string[] }
  | { type: "result"; id: number; outcome: StepOutcome }
  | { type: "failed"; id: number; message: string };
