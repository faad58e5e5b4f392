/**
 * `npm run bench:kernel`: the kernel's cost per candidate and the pool's cost per decision.
 * A table on stdout and bench-results/kernel.json. Not a test: nothing here passes or fails a build.
 *
 * 1. ns per candidate, N = 100 / 1,000 / 10,000 (D = 32, A = 8, K = 6), for the TypeScript reference, the
 *    scalar build and the SIMD build, cycling through 16 different requests. For WASM, "decide" is what a real
 *    decision pays: copy the request into memory, then one `decide` call (all five steps). "same input" calls
 *    `decide` again on the request already in memory: a lower bound (no copy, and the CPU's branch predictor
 *    has learnt the request). Each figure is the median of 15 timed batches.
 * 2. Per-decision latency at N = 1,000, inline vs pool, open loop: requests arrive at a fixed rate whatever
 *    the answers do, and latency is measured from each request's scheduled arrival (so a stalled pool is
 *    charged for the queue it causes). HDR histogram; p50 is the headline.
 *
 *    Each mode and rate runs `--repeat` times (modes interleaved, so other load on the host hits all of
 *    them); tables show medians over runs. Pool overhead = pool - inline at the same rate within a run, for
 *    p50, p90 and p99. Also per row: the workers' CPU (process CPU minus the main thread's), and per mode the
 *    process CPU while idle right after traffic stops (the tail of any spinning included).
 *
 * Pool modes: "pool 1" and "pool 2" use the defaults (adaptive worker spin capped at spinMicros, pool polling
 * pollMicros); "no spin" sleeps and parks at once (Atomics.wait / Atomics.waitAsync only). The generator
 * itself keeps the main thread busy (setImmediate until the next arrival), as a loaded gateway would be.
 *
 * Options: --quick, --rates=1000,5000 (arrivals per second), --seconds=2 (per rate), --repeat=3,
 * --idle-seconds=3, --latency-only (skip the per-candidate kernel timings), --modes=pool 1,pool 2 (inline always
 * runs), --out=bench-results/kernel.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { makeInventory, makeRequest } from "../../wasm-core/src/kernel-fixtures.ts";
import type { KernelInventory, KernelRequest } from "../../wasm-core/src/kernel-inputs.ts";
import { loadKernel } from "../../wasm-core/src/kernel-loader.ts";
import { KernelPool, type KernelPoolOptions } from "../../wasm-core/src/kernel-pool.ts";
import { decideReference } from "../../wasm-core/src/kernel-reference.ts";
import { readKernelWasm } from "../../wasm-core/src/kernel-wasm.ts";
import { type LatencyRow, oneAtATime, openLoop } from "./pool-load.ts";

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, "").split("=");
    return [key!, value ?? "true"];
  }),
);
const quick = args.has("quick");
const rates = (args.get("rates") ?? "1000,2000,5000,10000,20000").split(",").map(Number);
const secondsPerRate = Number(args.get("seconds") ?? (quick ? 1 : 2));
const repeats = Number(args.get("repeat") ?? (quick ? 1 : 3));
const idleSeconds = Number(args.get("idle-seconds") ?? (quick ? 1 : 3));
const latencyOnly = args.has("latency-only");
const output = args.get("out") ?? "bench-results/kernel.json";
const DIMENSIONS = 32;
const AGENTS = 8;
const SIZES = [100, 1_000, 10_000];

function fixture(candidates: number, requests: number): { inventory: KernelInventory; requests: KernelRequest[] } {
  const inventory = makeInventory({ seed: 42, candidates, dimensions: DIMENSIONS });
  return {
    inventory,
    requests: Array.from({ length: requests }, (_, i) => makeRequest(inventory, { seed: 1000 + i, agents: AGENTS })),
  };
}

/** Median and best ns per call over 15 batches, each batch sized to take about `batchMs`. */
function time(call: (i: number) => void, batchMs: number): { median: number; best: number } {
  let iterations = 1;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) call(i);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (ms >= batchMs / 4) {
      iterations = Math.max(1, Math.ceil((iterations * batchMs) / Math.max(ms, 0.001)));
      break;
    }
    iterations *= 4;
  }
  const samples: number[] = [];
  for (let batch = 0; batch < 15; batch++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) call(i);
    samples.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[7]!, best: samples[0]! };
}

interface KernelRow {
  candidates: number;
  implementation: string;
  /** Medians of 15 batches. */
  nsPerDecision: number;
  nsPerCandidate: number;
  /** Fastest batch: less sensitive to other load on the host. */
  bestNsPerCandidate: number;
}

function benchKernels(): KernelRow[] {
  const rows: KernelRow[] = [];
  const batchMs = quick ? 20 : 60;
  for (const n of SIZES) {
    const { inventory, requests } = fixture(n, 16);
    const capacity = { maxCandidates: n, maxDimensions: DIMENSIONS, maxAgents: AGENTS };
    const add = (implementation: string, ns: { median: number; best: number }) =>
      rows.push({
        candidates: n,
        implementation,
        nsPerDecision: ns.median,
        nsPerCandidate: ns.median / n,
        bestNsPerCandidate: ns.best / n,
      });
    add(
      "ts-reference",
      time((i) => decideReference(inventory, requests[i % 16]!), batchMs),
    );
    for (const variant of ["scalar", "simd"] as const) {
      const kernel = loadKernel(readKernelWasm(variant), capacity);
      kernel.setInventory(inventory);
      add(
        `wasm-${variant} decide`,
        time((i) => kernel.run(requests[i % 16]!), batchMs),
      );
      kernel.write(requests[0]!);
      add(
        `wasm-${variant} same input`,
        time(() => kernel.invoke(), batchMs),
      );
    }
  }
  return rows;
}

const ALL_MODES: [string, Partial<KernelPoolOptions>][] = [
  ["inline", { mode: "inline" }],
  ["pool 1 no spin", { mode: "pool", size: 1, spinMicros: 0, pollMicros: 0 }],
  ["pool 1", { mode: "pool", size: 1 }],
  ["pool 2", { mode: "pool", size: 2 }],
];
/** --modes=inline,pool 1 picks some (inline always runs: overheads are measured against it). */
const MODES = ALL_MODES.filter(
  ([mode]) => mode === "inline" || !args.has("modes") || args.get("modes")!.split(",").includes(mode),
);

interface IdleRow {
  mode: string;
  run: number;
  /** CPU of the whole process (main thread and workers) while nothing is asked of it, as a share of one core. */
  processCpuShare: number;
}

/** One pass over every mode and rate; `run` tags the rows (modes interleave across runs, so load hits all). */
async function benchLatency(run: number, latency: LatencyRow[], idle: IdleRow[]): Promise<void> {
  const { inventory, requests } = fixture(1_000, 64);
  for (const [mode, options] of MODES) {
    const pool = new KernelPool({
      ...options,
      moduleBytes: readKernelWasm("simd"),
      moduleVersion: "simd",
      capacity: { maxCandidates: 1_000, maxDimensions: DIMENSIONS, maxAgents: AGENTS },
    });
    pool.setInventory(inventory);
    await pool.ready();
    await openLoop(pool, requests, 2_000, quick ? 0.3 : 1); // warm-up: JIT, worker caches
    latency.push({ mode, run, ...(await oneAtATime(pool, requests, quick ? 1_000 : 5_000)) });
    for (const rate of rates) latency.push({ mode, run, ...(await openLoop(pool, requests, rate, secondsPerRate)) });
    // Idle right after traffic stops, the tail of any spinning included.
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    const used = process.cpuUsage(cpu);
    idle.push({
      mode,
      run,
      processCpuShare: (used.user + used.system) / 1e3 / (Number(process.hrtime.bigint() - start) / 1e6),
    });
    await pool.close();
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const f = (x: number, digits = 1) => x.toFixed(digits).padStart(9);
const pct = (share: number) => `${(100 * share).toFixed(0)}%`;
const rateLabel = (rate: number) => (rate === 0 ? "1 by 1" : String(rate));

const loadBefore = loadavg();
const kernelRows = latencyOnly ? [] : benchKernels();
if (!latencyOnly) {
  console.log(`\nKernel, D=${DIMENSIONS} A=${AGENTS} K=6 (median of 15 batches)`);
  console.log(
    `${"N".padStart(6)}  ${"implementation".padEnd(22)} ${"us/decision".padStart(11)} ${"ns/candidate".padStart(12)} ${"best ns/cand".padStart(12)}`,
  );
  for (const row of kernelRows) {
    console.log(
      `${String(row.candidates).padStart(6)}  ${row.implementation.padEnd(22)} ${f(row.nsPerDecision / 1000, 2).padStart(11)} ${f(row.nsPerCandidate, 2).padStart(12)} ${f(row.bestNsPerCandidate, 2).padStart(12)}`,
    );
  }
}

const latencyRuns: (LatencyRow & { run: number })[] = [];
const idleRuns: IdleRow[] = [];
for (let run = 0; run < repeats; run++) await benchLatency(run, latencyRuns, idleRuns);

/** Per mode and rate: the median over runs of each figure. */
const cells = MODES.flatMap(([mode]) =>
  [0, ...rates].map((rate) => {
    const runs = latencyRuns.filter((r) => r.mode === mode && r.ratePerSecond === rate);
    const inline = latencyRuns.filter((r) => r.mode === "inline" && r.ratePerSecond === rate);
    // Overhead within each run (pool and inline measured minutes apart, not hours), then the median over runs.
    const overhead = (key: "p50us" | "p90us" | "p99us") =>
      median(runs.map((r) => r[key] - inline.find((i) => i.run === r.run)![key]));
    return {
      mode,
      ratePerSecond: rate,
      runs: runs.length,
      failed: runs.reduce((sum, r) => sum + r.failed, 0),
      p50us: median(runs.map((r) => r.p50us)),
      p90us: median(runs.map((r) => r.p90us)),
      p99us: median(runs.map((r) => r.p99us)),
      p999us: median(runs.map((r) => r.p999us)),
      starvedShare: median(runs.map((r) => r.mainThreadRunnableButWaitingShare)),
      workerCpuShare: median(runs.map((r) => r.workerCpuShare)),
      wokenShare: median(runs.map((r) => r.wokenShare)),
      overheadUs:
        mode === "inline"
          ? undefined
          : {
              p50: overhead("p50us"),
              p90: overhead("p90us"),
              p99: overhead("p99us"),
              p50PerRun: runs.map((r) => r.p50us - inline.find((i) => i.run === r.run)!.p50us),
            },
    };
  }),
);
const idleCpu = MODES.map(([mode]) => ({
  mode,
  processCpuShare: median(idleRuns.filter((r) => r.mode === mode).map((r) => r.processCpuShare)),
}));

console.log(
  `\nPer-decision latency, N=1,000, open loop from scheduled arrival (microseconds, median of ${repeats} run(s))`,
);
console.log("(1 by 1: closed loop, one decision in flight; starved: share of the run the main thread was runnable");
console.log(
  " but waiting for a CPU, i.e. other load on the host; workers: their CPU, share of one core; woken: share of",
);
console.log(" decisions handed to a sleeping worker)");
console.log(
  `${"mode".padEnd(16)} ${"rate/s".padStart(7)} ${"p50".padStart(9)} ${"p90".padStart(9)} ${"p99".padStart(9)} ${"p99.9".padStart(9)} ${"failed".padStart(6)} ${"starved".padStart(8)} ${"workers".padStart(8)} ${"woken".padStart(6)}`,
);
for (const c of cells) {
  console.log(
    `${c.mode.padEnd(16)} ${rateLabel(c.ratePerSecond).padStart(7)} ${f(c.p50us)} ${f(c.p90us)} ${f(c.p99us)} ${f(c.p999us)} ${String(c.failed).padStart(6)} ${pct(c.starvedShare).padStart(8)} ${pct(c.workerCpuShare).padStart(8)} ${(Number.isNaN(c.wokenShare) ? "-" : pct(c.wokenShare)).padStart(6)}`,
  );
}
console.log(
  "\nPool overhead = pool - inline at the same rate, same run (microseconds, median of runs; target p50 <= 20)",
);
console.log(
  `${"mode".padEnd(16)} ${"rate/s".padStart(7)} ${"p50".padStart(9)} ${"p90".padStart(9)} ${"p99".padStart(9)}  p50 per run`,
);
for (const c of cells) {
  if (c.overheadUs === undefined) continue;
  const o = c.overheadUs;
  console.log(
    `${c.mode.padEnd(16)} ${rateLabel(c.ratePerSecond).padStart(7)} ${f(o.p50)} ${f(o.p90)} ${f(o.p99)}  ${o.p50PerRun.map((x) => x.toFixed(1)).join(" / ")}`,
  );
}
console.log(
  `\nIdle CPU of the process, ${idleSeconds} s right after traffic stops (share of one core, median of runs)`,
);
for (const row of idleCpu) console.log(`  ${row.mode.padEnd(16)} ${(100 * row.processCpuShare).toFixed(2)}%`);

const summary = latencyOnly
  ? undefined
  : {
      fullKernelN1000SimdUs: kernelAt(1_000, "wasm-simd decide").nsPerDecision / 1000,
      fullKernelN1000SimdSameInputUs: kernelAt(1_000, "wasm-simd same input").nsPerDecision / 1000,
      simdSpeedupOverReferenceN1000:
        kernelAt(1_000, "ts-reference").nsPerDecision / kernelAt(1_000, "wasm-simd decide").nsPerDecision,
      simdSpeedupOverScalarN1000:
        kernelAt(1_000, "wasm-scalar decide").nsPerDecision / kernelAt(1_000, "wasm-simd decide").nsPerDecision,
    };
function kernelAt(n: number, implementation: string): KernelRow {
  return kernelRows.find((r) => r.candidates === n && r.implementation === implementation)!;
}
if (summary !== undefined) {
  console.log("\nSummary");
  console.log(
    `  full kernel N=1,000 (SIMD), copy + decide: ${summary.fullKernelN1000SimdUs.toFixed(2)} us (target <= 20); same input: ${summary.fullKernelN1000SimdSameInputUs.toFixed(2)} us`,
  );
  console.log(
    `  SIMD vs TS reference at N=1,000: ${summary.simdSpeedupOverReferenceN1000.toFixed(1)}x (target >= 5); vs scalar: ${summary.simdSpeedupOverScalarN1000.toFixed(2)}x`,
  );
}
const loadAfter = loadavg();
console.log(
  `  load average before/after: ${loadBefore.map((x) => x.toFixed(2)).join(" ")} / ${loadAfter.map((x) => x.toFixed(2)).join(" ")}`,
);

mkdirSync("bench-results", { recursive: true });
writeFileSync(
  output,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().map((c) => c.model),
      loadAverage: { before: loadBefore, after: loadAfter },
      parameters: {
        dimensions: DIMENSIONS,
        agents: AGENTS,
        maxAds: 6,
        rates,
        secondsPerRate,
        repeats,
        idleSeconds,
        quick,
      },
      kernel: kernelRows,
      latency: cells,
      idleCpu,
      latencyRuns,
      idleRuns,
      summary,
    },
    null,
    2,
  )}\n`,
);
console.log(`\nwrote ${output}`);
