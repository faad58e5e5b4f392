import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Command, InvalidArgumentError } from "commander";
import { type Coordination, type startMesh as StartMesh, startMesh } from "../../launch/mesh.ts";
import { NatsServerProcess } from "../../lib/nats/nats-server-process.ts";
import { startChild, stopChild } from "../../lib/process/launcher.ts";
import { LoadClient } from "../lib/load-client-handle.ts";
import type { LoadTarget } from "../lib/load-client-protocol.ts";
import { measureStep } from "../lib/measure-step.ts";
import { medianOfRuns } from "../lib/median-of-runs.ts";
import { ProcessSampler } from "../lib/process-sampler.ts";
import { type SearchCriteria, type SearchResult, searchRates } from "../lib/rate-search.ts";
import { defaultJsonPath, writeJson } from "../lib/report-table.ts";
import { StepProgress } from "../lib/step-progress.ts";
import { benchReport } from "./bench-report.ts";
import { BUDGET_SCALE, decideRequests } from "./decide-requests.ts";
import { BARE_ECHO, checkGoals, ECHO_CEILING, FANOUT_CEILING, type TargetResult } from "./goals.ts";

const MODES: Coordination[] = ["cached", "parallel", "sequential"];

const list = (raw: string) => raw.split(",").map((s) => s.trim());
const numbers = (raw: string) =>
  list(raw).map((s) => {
    const n = Number(s);
    if (!(n > 0)) throw new InvalidArgumentError(`"${s}" is not a positive number`);
    return n;
  });
const positiveInteger = (raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${raw}" is not a positive integer`);
  return n;
};

const options = new Command("bench")
  .description("Open-loop Decide benchmark of the full local mesh per coordination mode, with ceilings.")
  .option(
    "--modes <list>",
    "coordination modes to run",
    (raw) => {
      const modes = list(raw);
      for (const m of modes)
        if (!MODES.includes(m as Coordination)) throw new InvalidArgumentError(`unknown mode "${m}" (${MODES})`);
      return modes as Coordination[];
    },
    MODES,
  )
  .option(
    "--rates <list>",
    "arrival rates to step through, per second",
    numbers,
    [100, 250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000, 10000, 12000],
  )
  .option("--duration <seconds>", "length of each step", Number, 5)
  .option(
    "--warmup <seconds>",
    "warm-up before each search, at --warmup-rate (JIT tiers and caches settle: 2 s at 100/s left the first steps " +
      "measuring compilation)",
    Number,
    5,
  )
  .option("--warmup-rate <n>", "arrival rate of the warm-up (capped at the search's highest rate)", Number, 500)
  .option("--protocol <grpc|connect>", "wire protocol of the load", "grpc")
  .option(
    "--client <raw-http2|node-http2>",
    "load client: HTTP/2 framed by hand on a socket, or node:http2's client (the former default: 2.1-2.4x the CPU " +
      "per request against the bare echo at 1,000-3,000/s, bench/mesh/client-cost.ts)",
    (raw) => {
      if (raw !== "raw-http2" && raw !== "node-http2") throw new InvalidArgumentError(`unknown client "${raw}"`);
      return raw;
    },
    "raw-http2",
  )
  .option("--slo-ms <ms>", "p99 bound a step must meet", Number, 10)
  .option("--stop-ms <ms>", "stop a search after a step with p99 above this (overload)", Number, 50)
  .option("--ratio-rate <n>", "rate at which p50s are compared (ceilings, parallel vs sequential)", Number, 100)
  .option("--no-ceilings", "skip the echo and NATS fan-out ceilings")
  .option("--ceilings-max-rate <n>", "highest rate the ceilings are stepped to", Number, 6000)
  .option("--idle <seconds>", "CPU of the mesh with no load, measured before its warm-up (0: skip)", Number, 10)
  .option(
    "--client-processes <n>",
    "load client processes (the rate is split over them; 2 for searches past ~3,000/s)",
    Number,
    1,
  )
  .option("--no-mesh", "measure the ceilings only")
  .option(
    "--gateway-url <url>",
    "benchmark this running gateway instead of starting meshes (mode: as configured; sends CHORUS_DECIDE_KEY)",
  )
  .option("--sessions <n>", "HTTP/2 connections of each load client process", Number, 4)
  .option(
    "--budget-scale <n>",
    "multiply the demo catalog's budgets: at the demo's own budgets pacing binds within seconds, sooner the higher " +
      "the rate, and the sold share (with the work behind it) fell from 0.58 at 100/s to 0.34 at 1,500/s",
    positiveInteger,
    BUDGET_SCALE,
  )
  .option(
    "--baseline-dir <dir>",
    "also measure the mesh of another checkout (its dist/ built: a before/after comparison); each mode's meshes " +
      "start fresh per run, alternating between that build and this one (order swapped every run)",
  )
  .option(
    "--repeat <n>",
    "searches per target (each after its warm-up); the tables show, per rate, the run with the median p99",
    positiveInteger,
    1,
  )
  .option("--json <path>", "where to write the results", defaultJsonPath("bench-mesh"))
  .parse()
  .opts<{
    modes: Coordination[];
    rates: number[];
    duration: number;
    warmup: number;
    warmupRate: number;
    protocol: "grpc" | "connect";
    client: "raw-http2" | "node-http2";
    sloMs: number;
    stopMs: number;
    ratioRate: number;
    ceilings: boolean;
    ceilingsMaxRate: number;
    idle: number;
    clientProcesses: number;
    budgetScale: number;
    mesh: boolean;
    gatewayUrl?: string;
    sessions: number;
    baselineDir?: string;
    repeat: number;
    json: string;
  }>();

const criteria: SearchCriteria = { sloP99Ms: options.sloMs, maxErrorRate: 0.001, stopP99Ms: options.stopMs };
const durationMs = options.duration * 1000;
const rates = [...new Set([...options.rates, options.ratioRate])].sort((a, b) => a - b);
const requests = decideRequests();
const decideTarget = (url: string, apiKey: string | undefined, countAds = true): LoadTarget => ({
  kind: "http2-unary",
  client: options.client,
  url,
  apiKey,
  path: "/chorus.v1.DecisionService/Decide",
  protocol: options.protocol,
  bodies: requests.bodies,
  fields: requests.fields,
  countAds,
  sessions: options.sessions,
  timeoutMs: 2_000,
});

const client = await LoadClient.start(options.clientProcesses);
const targetCount =
  (options.gatewayUrl ? 1 : options.mesh ? options.modes.length * (options.baselineDir ? 2 : 1) : 0) +
  (options.ceilings ? 3 : 0);
// A guess for the bar: most searches stop around the middle of the rate list.
const progress = new StepProgress(targetCount * options.repeat * Math.ceil(rates.length / 2) * (durationMs + 1000));
const results: TargetResult[] = [];

/** Warm up (JIT, connections, caches) for 2 s at the lowest rate, then step the rates up; `--repeat` times. */
async function measureTarget(
  name: string,
  target: LoadTarget,
  processes: { name: string; pid: number }[],
  { maxRate = Number.POSITIVE_INFINITY, idle }: { maxRate?: number; idle?: TargetResult["idle"] } = {},
): Promise<void> {
  const runs: SearchResult[] = [];
  for (let run = 1; run <= options.repeat; run++) runs.push(await searchOnce(name, target, processes, maxRate, run));
  results.push({ name, ...medianOfRuns(runs), ...(runs.length > 1 ? { runs } : {}), ...(idle ? { idle } : {}) });
}

/** One warm-up and one search of the rates (up to `maxRate`). */
async function searchOnce(
  name: string,
  target: LoadTarget,
  processes: { name: string; pid: number }[],
  maxRate: number,
  run: number,
): Promise<SearchResult> {
  const stepped = rates.filter((r) => r <= maxRate);
  const of = options.repeat > 1 ? ` (run ${run}/${options.repeat})` : "";
  progress.label(`${name}: warm-up${of}`);
  await client.run(target, Math.min(options.warmupRate, stepped.at(-1)!), options.warmup * 1000);
  await new Promise((r) => setTimeout(r, 1_000)); // let the warm-up's queues drain
  return searchRates(stepped, criteria, async (rate) => {
    progress.label(`${name} @ ${rate}/s${of}`);
    const step = await measureStep({ client, target, rate, durationMs, criteria, processes, progress });
    await new Promise((r) => setTimeout(r, 1_000)); // let queues drain before the next step
    return step;
  });
}

/** Per process, the median CPU share of several idle measurements. */
function medianIdle(samples: readonly (TargetResult["idle"] | undefined)[]): TargetResult["idle"] {
  const measured = samples.filter((s) => s !== undefined);
  if (measured.length === 0) return undefined;
  return measured[0]!.map((p) => {
    const values = measured.map((m) => m.find((q) => q.name === p.name)?.cpuPercent ?? 0).sort((a, b) => a - b);
    return { ...p, cpuPercent: values[Math.floor((values.length - 1) / 2)]! };
  });
}

/** This build's startMesh, or the one of the checkout given with --baseline-dir (its own dist/, its own entries). */
async function meshStarter(baseline: boolean): Promise<typeof StartMesh> {
  if (!baseline) return startMesh;
  const entry = join(resolve(options.baselineDir!), "dist", "launch", "mesh.js");
  if (!existsSync(entry)) throw new Error(`--baseline-dir: ${entry} is missing (npm run build in that checkout)`);
  return ((await import(pathToFileURL(entry).href)) as { startMesh: typeof StartMesh }).startMesh;
}

/**
 * Each mode `--repeat` times; with --baseline-dir the baseline's mesh and this build's take turns, run by run (the
 * order swapped every run, so that drift in the machine's load falls on both), each started fresh.
 */
async function measureMeshes(): Promise<void> {
  const variants = options.baselineDir ? [true, false] : [false];
  for (const mode of options.modes) {
    const runs = new Map<boolean, { searches: SearchResult[]; idle: TargetResult["idle"][]; error?: string }>();
    for (const v of variants) runs.set(v, { searches: [], idle: [] });
    for (let run = 1; run <= options.repeat; run++) {
      const order = run % 2 === 1 ? variants : [...variants].reverse();
      for (const baseline of order) {
        const name = baseline ? `${mode} (baseline)` : mode;
        const into = runs.get(baseline)!;
        if (into.error) continue;
        try {
          progress.label(`${name}: starting the mesh`);
          const start = await meshStarter(baseline);
          const mesh = await start({
            coordination: mode,
            gatewayPort: 0,
            silent: true,
            env: { LOG_LEVEL: "warn" },
            demoCatalog: { budgetScale: options.budgetScale },
          });
          try {
            into.idle.push(await idleUsage(name, mesh.processes));
            const target = decideTarget(mesh.gatewayUrl, mesh.credentials.decideKey);
            into.searches.push(await searchOnce(name, target, mesh.processes, Number.POSITIVE_INFINITY, run));
          } finally {
            await mesh.stop();
          }
        } catch (err) {
          into.error = (err as Error).message.split("\n")[0];
        }
      }
    }
    for (const baseline of variants) {
      const name = baseline ? `${mode} (baseline)` : mode;
      const { searches, idle, error } = runs.get(baseline)!;
      if (searches.length === 0) {
        results.push({ name, steps: [], maxPassingRate: 0, sustainedRate: 0, error: error ?? "no run" });
        continue;
      }
      const idleMedian = medianIdle(idle);
      results.push({
        name,
        ...medianOfRuns(searches),
        ...(searches.length > 1 ? { runs: searches } : {}),
        ...(idleMedian ? { idle: idleMedian } : {}),
        ...(error ? { error } : {}),
      });
    }
  }
}

/** The mesh's own CPU with no load at all: timers, heartbeats, signals, watchdogs (after a settling pause). */
async function idleUsage(name: string, processes: { name: string; pid: number }[]): Promise<TargetResult["idle"]> {
  if (!(options.idle > 0)) return undefined;
  progress.label(`${name}: idle ${options.idle} s`);
  await new Promise((r) => setTimeout(r, 3_000));
  const sampler = new ProcessSampler(1_000).start(processes);
  await new Promise((r) => setTimeout(r, options.idle * 1000));
  return sampler.stop();
}

async function guarded(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    results.push({
      name,
      steps: [],
      maxPassingRate: 0,
      sustainedRate: 0,
      error: (err as Error).message.split("\n")[0],
    });
  }
}

try {
  if (options.ceilings) {
    progress.label("starting nats-server for the ceilings");
    const nats = await new NatsServerProcess().start();
    try {
      await guarded(BARE_ECHO, async () => {
        const echo = await startChild({ name: "bare-echo", entry: "bench/mesh/bare-echo" });
        try {
          await measureTarget(
            BARE_ECHO,
            decideTarget(String(echo.ready.url), undefined, false),
            [{ name: "bare-echo", pid: echo.pid }],
            { maxRate: options.ceilingsMaxRate },
          );
        } finally {
          await stopChild(echo.process);
        }
      });
      await guarded(ECHO_CEILING, async () => {
        const echo = await startChild({
          name: "instant-gateway",
          entry: "bench/mesh/instant-gateway",
          env: { NATS_URL: nats.url },
        });
        try {
          await measureTarget(
            ECHO_CEILING,
            decideTarget(String(echo.ready.url), String(echo.ready.apiKey), false),
            [{ name: "instant-gateway", pid: echo.pid }],
            { maxRate: options.ceilingsMaxRate },
          );
        } finally {
          await stopChild(echo.process);
        }
      });
      await guarded(FANOUT_CEILING, async () => {
        const responders = await startChild({
          name: "nats-echo-responders",
          entry: "bench/mesh/nats-echo-responders",
          env: { NATS_URL: nats.url, FANOUT: "5" },
        });
        try {
          const target: LoadTarget = {
            kind: "nats-scatter",
            natsUrl: nats.url,
            subjects: responders.ready.subjects as string[],
            payload: requests.taskPayload,
            timeoutMs: 2_000,
          };
          await measureTarget(
            FANOUT_CEILING,
            target,
            [
              { name: "nats-server", pid: nats.pid ?? 0 },
              { name: "responders", pid: responders.pid },
            ],
            { maxRate: options.ceilingsMaxRate },
          );
        } finally {
          await stopChild(responders.process);
        }
      });
    } finally {
      await nats.stop();
    }
  }
  if (options.gatewayUrl) {
    await guarded("gateway", () =>
      measureTarget("gateway", decideTarget(options.gatewayUrl!, process.env.CHORUS_DECIDE_KEY), []),
    );
  } else if (options.mesh) {
    await measureMeshes();
  }
} finally {
  progress.stop();
  await client.close();
}

const goals = checkGoals(new Map(results.map((r) => [r.name, r])), options.ratioRate);
console.log(benchReport(results, goals, options.ratioRate, options.repeat));
const path = writeJson(options.json, {
  benchmark: "mesh",
  startedAt: new Date().toISOString(),
  machine: { cpus: (await import("node:os")).cpus().length, node: process.version },
  options,
  results,
  goals,
});
console.log(`\nresults: ${path}`);
