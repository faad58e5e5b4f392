import { type ChildProcess, fork } from "node:child_process";
import { createWriteStream } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MEMORY_QUERY, type MemoryAnswer, type MemoryReport } from "./child-lifecycle.ts";

/** Repository root, whether running from source (tsx) or from dist/. */
const here = fileURLToPath(import.meta.url);
const fromSource = here.endsWith(".ts");
export const repoRoot = resolve(dirname(here), fromSource ? "../.." : "../../..");

/** The command-line for a process entry given without extension, e.g. "gateway/main". */
export function entryArgs(entry: string): { script: string; execArgv: string[] } {
  // CHORUS_CPU_PROF=<dir>: a V8 CPU profile of every Chorus process (Node refuses --cpu-prof in NODE_OPTIONS).
  const profile = process.env.CHORUS_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.CHORUS_CPU_PROF}`] : [];
  // CHORUS_HEAP_PROF=<dir>: a sampling heap profile of every Chorus process, written when it exits: what is still
  // alive then, by allocation site (how a soak's growth was traced to its cause).
  if (process.env.CHORUS_HEAP_PROF)
    profile.push("--heap-prof", `--heap-prof-dir=${process.env.CHORUS_HEAP_PROF}`, "--heap-prof-interval=65536");
  // CHORUS_TRACE_GC=1: V8's line per collection (kind, pause, why), on the child's stdout: with the soak's silent
  // children, set CHORUS_CHILD_LOG_DIR too (how the gateway's long pauses were traced to their cause). =nvp: the
  // pause split into its phases (marking, evacuation, sweeping) as name=value pairs.
  if (process.env.CHORUS_TRACE_GC)
    profile.push(process.env.CHORUS_TRACE_GC === "nvp" ? "--trace-gc-nvp" : "--trace-gc");
  // CHORUS_NODE_ARGS="--flag ...": more node/V8 flags for every Chorus process, those NODE_OPTIONS refuses included
  // (e.g. --heap-growing-percent: docs/benchmarks.md, "What the gateway's old-space pauses are made of").
  profile.push(...(process.env.CHORUS_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []));
  return fromSource
    ? { script: join(repoRoot, `${entry}.ts`), execArgv: ["--import", "tsx", ...profile] }
    : { script: join(repoRoot, "dist", `${entry}.js`), execArgv: profile };
}

export interface ChildSpec {
  name: string;
  entry: string;
  env?: Record<string, string>;
  /** How long to wait for the child's ready message. */
  readyTimeoutMs?: number;
  /** With `silent`: append the child's output (its JSON log on stdout, crashes on stderr) to this file. */
  logFile?: string;
}

export interface RunningChild {
  name: string;
  pid: number;
  process: ChildProcess;
  ready: Record<string, unknown>;
  /** The last few KB the child wrote to stderr (with `silent`), for a crash report. */
  stderrTail: () => string;
}

/**
 * Forks a Chorus process and resolves with its ready message (lib/process/child-lifecycle.ts). Output goes to this
 * process's stdout/stderr prefixed by nothing: children log JSON lines with their own name.
 */
export function startChild(spec: ChildSpec, { silent = false } = {}): Promise<RunningChild> {
  const { script, execArgv } = entryArgs(spec.entry);
  // CHORUS_CHILD_LOG_DIR=<dir>: every silent child's output goes to <dir>/<name>.log unless its spec names a file.
  const logDir = process.env.CHORUS_CHILD_LOG_DIR;
  if (logDir && !spec.logFile) spec = { ...spec, logFile: join(logDir, `${spec.name}.log`) };
  const child = fork(script, [], {
    execArgv,
    env: { ...process.env, ...spec.env, CHORUS_PROCESS_NAME: spec.name },
    stdio: silent
      ? ["ignore", spec.logFile ? "pipe" : "ignore", "pipe", "ipc"]
      : ["ignore", "inherit", "inherit", "ipc"],
  });
  let stderr = "";
  const file = spec.logFile ? createWriteStream(spec.logFile, { flags: "a" }) : undefined;
  if (file) child.once("exit", () => file.end());
  child.stdout?.on("data", (chunk: Buffer) => file?.write(chunk));
  child.stderr?.on("data", (chunk: Buffer) => {
    file?.write(chunk);
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${spec.name} was not ready within ${spec.readyTimeoutMs ?? 30_000} ms\n${stderr}`));
    }, spec.readyTimeoutMs ?? 30_000);
    child.on("message", (msg: { type?: string }) => {
      if (msg?.type !== "ready") return;
      clearTimeout(timer);
      resolvePromise({
        name: spec.name,
        pid: child.pid!,
        process: child,
        ready: msg as Record<string, unknown>,
        stderrTail: () => stderr,
      });
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${spec.name} exited before it was ready (code ${code}, signal ${signal})\n${stderr}`));
    });
  });
}

/** SIGTERM, wait for the exit, SIGKILL after the grace period. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

let nextQuery = 1;
/**
 * Asks a ready Chorus child for its process.memoryUsage() over the IPC channel (child-lifecycle.ts answers);
 * undefined when it does not answer within `timeoutMs` (busy, exiting, or not a Chorus process). `afterGc`: also
 * the live heap after a full collection (a pause of the child's loop: a soak's once a minute, not a health check).
 */
export function queryMemoryUsage(
  child: ChildProcess,
  timeoutMs = 2_000,
  afterGc = false,
): Promise<MemoryReport | undefined> {
  if (!child.connected) return Promise.resolve(undefined);
  const id = nextQuery++;
  return new Promise((resolvePromise) => {
    const done = (usage: MemoryReport | undefined) => {
      clearTimeout(timer);
      child.off("message", onMessage);
      resolvePromise(usage);
    };
    const onMessage = (msg: Partial<MemoryAnswer> | undefined) => {
      if (msg?.type === MEMORY_QUERY && msg.id === id) done(msg.usage);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    child.on("message", onMessage);
    try {
      child.send({ type: MEMORY_QUERY, id, afterGc });
    } catch {
      done(undefined);
    }
  });
}
