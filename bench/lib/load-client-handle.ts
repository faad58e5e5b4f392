import type { ChildProcess } from "node:child_process";
import { startChild, stopChild } from "../../lib/process/launcher.ts";
import { decodeHistogram, type Histogram } from "./latency-histogram.ts";
import type { ClientReply, LoadTarget, RunStep } from "./load-client-protocol.ts";
import type { OpenLoopProgress } from "./open-loop.ts";

export interface StepResult extends OpenLoopProgress {
  latency: Histogram;
  sendLag: Histogram;
  errorSamples: string[];
  /** Completed responses with at least one ad, and the ads in them (0 for targets that are not decisions). */
  sold: number;
  ads: number;
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
    const parts = await Promise.all(
      this.children.map((child, index) =>
        this.runOne(child, { target, rate: rate / count, durationMs, shard: { index, count } }, (p) => {
          latest[index] = p;
          report();
        }),
      ),
    );
    const [first, ...others] = parts;
    for (const other of others) {
      first!.latency.add(other.latency);
      first!.sendLag.add(other.sendLag);
    }
    return {
      latency: first!.latency,
      sendLag: first!.sendLag,
      issued: parts.reduce((a, p) => a + p.issued, 0),
      completed: parts.reduce((a, p) => a + p.completed, 0),
      errors: parts.reduce((a, p) => a + p.errors, 0),
      sold: parts.reduce((a, p) => a + p.sold, 0),
      ads: parts.reduce((a, p) => a + p.ads, 0),
      elapsedMs: Math.max(...parts.map((p) => p.elapsedMs)),
      errorSamples: [...new Set(parts.flatMap((p) => p.errorSamples))].slice(0, 5),
    };
  }

  private runOne(
    child: ChildProcess,
    step: Omit<RunStep, "type" | "id">,
    onProgress: (p: OpenLoopProgress) => void,
  ): Promise<StepResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`load client exited (${code})`));
      const onMessage = (message: ClientReply) => {
        if (message.id !== id) return;
        if (message.type === "progress") return onProgress(message.progress);
        child.off("message", onMessage);
        child.off("exit", onExit);
        if (message.type === "failed") return reject(new Error(`load client: ${message.message}`));
        const { latency, sendLag, ...rest } = message.outcome;
        resolve({ ...rest, latency: decodeHistogram(latency), sendLag: decodeHistogram(sendLag) });
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
