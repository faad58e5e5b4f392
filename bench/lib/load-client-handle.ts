import type { ChildProcess } from "node:child_process";
import { startChild, stopChild } from "../../lib/process/launcher.ts";
import { decodeHistogram, type Histogram } from "./latency-histogram.ts";
import type { ClientReply, LoadTarget, RunStep } from "./load-client-protocol.ts";
import type { OpenLoopProgress } from "./open-loop.ts";

export interface StepResult extends OpenLoopProgress {
  latency: Histogram;
  sendLag: Histogram;
  errorSamples: string[];
}

/** The parent's handle on a load client process (load-client.ts): one step at a time. */
export class LoadClient {
  private nextId = 1;
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<LoadClient> {
    const { process: child } = await startChild({ name: "load-client", entry: "bench/lib/load-client" });
    return new LoadClient(child);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  run(
    target: LoadTarget,
    rate: number,
    durationMs: number,
    onProgress?: (p: OpenLoopProgress) => void,
  ): Promise<StepResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`load client exited (${code})`));
      const onMessage = (message: ClientReply) => {
        if (message.id !== id) return;
        if (message.type === "progress") return onProgress?.(message.progress);
        this.child.off("message", onMessage);
        this.child.off("exit", onExit);
        if (message.type === "failed") return reject(new Error(`load client: ${message.message}`));
        const { latency, sendLag, ...rest } = message.outcome;
        resolve({ ...rest, latency: decodeHistogram(latency), sendLag: decodeHistogram(sendLag) });
      };
      this.child.on("message", onMessage);
      this.child.once("exit", onExit);
      this.child.send({ type: "run", id, target, rate, durationMs } satisfies RunStep);
    });
  }

  close(): Promise<void> {
    return stopChild(this.child, 3_000);
  }
}
