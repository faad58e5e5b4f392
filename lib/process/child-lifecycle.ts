import { Session } from "node:inspector";
import { installCrashGuards } from "./survive.ts";

/**
 * What every Chorus process does at its edges: tell a parent launcher it is ready (over the IPC channel when one
 * exists, so the launcher waits for real readiness instead of sleeping), and shut down once on SIGTERM, SIGINT or
 * the parent's death (the IPC channel closing), so that Ctrl-C on the launcher leaves no orphans.
 */
export function signalReady(info: Record<string, unknown> = {}): void {
  answerMemoryQueries();
  process.send?.({ type: "ready", pid: process.pid, ...info });
}

/** The IPC question a launcher asks a ready child (launcher.ts `queryMemoryUsage`), and its answer. */
export const MEMORY_QUERY = "memory-usage";
export interface MemoryAnswer {
  type: typeof MEMORY_QUERY;
  id: number;
  usage: MemoryReport;
}
/** process.memoryUsage(), and with `afterGc` the V8 heap still in use after a full collection (live objects). */
export type MemoryReport = NodeJS.MemoryUsage & { liveHeapUsed?: number };

let answering = false;
/**
 * Answers the parent's memory question with process.memoryUsage(): RSS alone cannot tell a JavaScript leak (heap
 * used grows) from buffers (external) or the allocator keeping freed pages (neither grows, RSS does).
 */
function answerMemoryQueries(): void {
  if (answering || !process.send) return;
  answering = true;
  process.on("message", (msg: { type?: string; id?: number; afterGc?: boolean } | undefined) => {
    if (msg?.type !== MEMORY_QUERY) return;
    const usage: MemoryReport = process.memoryUsage();
    const answer = () => process.send?.({ type: MEMORY_QUERY, id: msg.id ?? 0, usage } satisfies MemoryAnswer);
    if (!msg.afterGc) {
      answer();
      return;
    }
    // Heap used counts garbage not yet collected, so a heap that merely grew its collection threshold looks like a
    // leak: a soak asks for the live heap too (a full collection, through the in-process inspector, no flags).
    const session = new Session();
    session.connect();
    session.post("HeapProfiler.collectGarbage", () => {
      usage.liveHeapUsed = process.memoryUsage().heapUsed;
      answer();
      // Not from inside the inspector's own callback: disconnecting there never returns.
      setImmediate(() => session.disconnect());
    });
  });
}

/** Also installs the crash guards (survive.ts): every Chorus process that serves calls this. */
export function onShutdown(stop: (reason: string) => Promise<void>, { graceMs = 10_000 } = {}): void {
  installCrashGuards();
  let stopping = false;
  const run = (reason: string) => {
    if (stopping) return;
    stopping = true;
    // A stop that hangs must not keep the process alive forever.
    setTimeout(() => process.exit(1), graceMs).unref();
    stop(reason).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`shutdown after ${reason} failed:`, err);
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => run("SIGTERM"));
  process.once("SIGINT", () => run("SIGINT"));
  process.once("disconnect", () => run("parent exited"));
}
