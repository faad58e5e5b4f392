import type { ChildProcess } from "node:child_process";
import { startChild, stopChild } from "../../lib/process/launcher.ts";
import { decodeHistogram, type Histogram } from "./latency-histogram.ts";
import type { ClientReply, LoadTarget, RunStep, StepOutcome } from "./load-client-protocol.ts";
import type { OpenLoopProgress } from "./open-loop.ts";

export interface StepResult extends OpenLoopProgress {
  latency: Histogram;
  sendLag: Histogram;
  /** Time to the refusal of calls the server refused (RESOURCE_EXHAUSTED, UNAVAILABLE...: call-tally.ts). */
  refusals: Histogram;
  errorSamples: string[];
  /** Completed responses with at least one ad, and the ads in them (0 for targets that are not decisions). */
  sold: number;
  ads: number;
  /** Calls that ran out of the target's timeout. */
  timeouts: number;
  /** Failures by reason ("grpc-status 8", "timeout", ...). */
  errorCounts: Record<string, number>;
}

/** Optional parts of a step: a ramp, and results window by window while it runs (a soak's minutes). */
export interface StepOptions {
  rampMs?: number;
  windowMs?: number;
  /** Window `index` of every process, merged, once the last process has reported it. */
  onWindow?: (window: StepResult, index: number) => void;
  /** Messages of answers with ads, in batches as they come (a target with `returnSold`). */
  onSold?: (messages: Buffer[]) => void;
}

const decode = ({ latency, sendLag, refusals, ...rest }: StepOutcome): StepResult => ({
  ...rest,
  latency: decodeHistogram(latency),
  sendLag: decodeHistogram(sendLag),
  refusals: decodeHistogram(refusals),
});

/** The processes' parts of one step (or one window) as one: counts added, histograms merged. */
export function mergeResults(parts: StepResult[]): StepResult {
  const [first, ...others] = parts;
  for (const other of others) {
    first!.latency.add(other.latency);
    first!.sendLag.add(other.sendLag);
    first!.refusals.add(other.refusals);
  }
  const errorCounts: Record<string, number> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p.errorCounts)) errorCounts[k] = (errorCounts[k] ?? 0) + v;
  const sum = (f: (p: StepResult) => number) => parts.reduce((a, p) => a + f(p), 0);
  return {
    latency: first!.latency,
    sendLag: first!.sendLag,
    refusals: first!.refusals,
    issued: sum((p) => p.issued),
    completed: sum((p) => p.completed),
    errors: sum((p) => p.errors),
    sold: sum((p) => p.sold),
    ads: sum((p) => p.ads),
    timeouts: sum((p) => p.timeouts),
    errorCounts,
    elapsedMs: Math.max(...parts.map((p) => p.elapsedMs)),
    errorSamples: [...new Set(parts.flatMap((p) => p.errorSamples))].slice(0, 5),
  };
}

/**
 * The parent's handle on the load client processes (load-client.ts): one step at a time, its rate split evenly
 * over the processes, their arrivals interleaved, their histograms merged. Several processes keep the client off
 * a single event loop's ceiling at high rates; their CPU is reported apart from the system under test.
 */
export class LoadClient {
  private nextId = 1;
  private constructor(private readonly children: ChildProcess[]) {}

  static async start(processes = 1): Promise<LoadClient> {
    const children = await Promise.all(
      Array.from({ length: processes }, () => startChild({ name: "load-client", entry: "bench/lib/load-client" })),
    );
    return new LoadClient(children.map((c) => c.process));
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid ?? 0);
  }

  async run(
    target: LoadTarget,
    rate: number,
    durationMs: number,
    onProgress?: (p: OpenLoopProgress) => void,
    { rampMs, windowMs, onWindow, onSold }: StepOptions = {},
  ): Promise<StepResult> {
    const count = this.children.length;
    const latest: OpenLoopProgress[] = this.children.map(() => ({ issued: 0, completed: 0, errors: 0, elapsedMs: 0 }));
    const report = () =>
      onProgress?.({
        issued: latest.reduce((a, p) => a + p.issued, 0),
        completed: latest.reduce((a, p) => a + p.completed, 0),
        errors: latest.reduce((a, p) => a + p.errors, 0),
        elapsedMs: Math.max(...latest.map((p) => p.elapsedMs)),
      });
    // Each process's windows by index. Window i is reported once every process has sent its own i or finished:
    // a process whose calls all settled early (no timeouts in its tail) sends fewer windows than the others.
    const windows: StepResult[][] = this.children.map(() => []);
    const finished = this.children.map(() => false);
    let next = 0;
    const flush = () => {
      while (windows.some((w) => w[next]) && windows.every((w, c) => w[next] || finished[c])) {
        onWindow?.(mergeResults(windows.flatMap((w) => w[next] ?? [])), next);
        next++;
      }
    };
    const parts = await Promise.all(
      this.children.map((child, index) =>
        this.runOne(
          child,
          { target, rate: rate / count, durationMs, shard: { index, count }, rampMs, windowMs: onWindow && windowMs },
          (p) => {
            latest[index] = p;
            report();
          },
          (i, part) => {
            windows[index]![i] = part;
            flush();
          },
          (messages) => onSold?.(messages.map((m) => Buffer.from(m, "base64"))),
        ).then((result) => {
          finished[index] = true;
          flush();
          return result;
        }),
      ),
    );
    return mergeResults(parts);
  }

  private runOne(
    child: ChildProcess,
    step: Omit<RunStep, "type" | "id">,
    onProgress: (p: OpenLoopProgress) => void,
    onWindow: (index: number, part: StepResult) => void,
    onSold: (messages: string[]) => void,
  ): Promise<StepResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`load client exited (${code})`));
      const onMessage = (message: ClientReply) => {
        if (message.id !== id) return;
        if (message.type === "progress") return onProgress(message.progress);
        if (message.type === "window") return onWindow(message.index, decode(message.outcome));
        if (message.type === "sold") return onSold(message.messages);
        child.off("message", onMessage);
        child.off("exit", onExit);
        if (message.type === "failed") return reject(new Error(`load client: ${message.message}`));
        resolve(decode(message.outcome));
      };
      child.on("message", onMessage);
      child.once("exit", onExit);
      child.send({ type: "run", id, ...step } satisfies RunStep);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.children.map((c) => stopChild(c, 3_000)));
  }
}
