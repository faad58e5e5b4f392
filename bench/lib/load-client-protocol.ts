import type { Http2UnaryTarget } from "./http2-unary-sender.ts";
import type { NatsScatterTarget } from "./nats-scatter-sender.ts";
import type { OpenLoopProgress } from "./open-loop.ts";

/** Messages between a benchmark and its load client process (node IPC). */
export type LoadTarget = Http2UnaryTarget | NatsScatterTarget;

export interface RunStep {
  type: "run";
  id: number;
  target: LoadTarget;
  rate: number;
  durationMs: number;
}

export interface StepOutcome extends OpenLoopProgress {
  /** Compressed HdrHistograms (µs). */
  latency: string;
  sendLag: string;
  errorSamples: string[];
}

export type ClientReply =
  | { type: "progress"; id: number; progress: OpenLoopProgress }
  | { type: "result"; id: number; outcome: StepOutcome }
  | { type: "failed"; id: number; message: string };
