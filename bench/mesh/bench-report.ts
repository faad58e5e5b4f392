import { LOAD_CLIENT_NAME } from "../lib/measure-step.ts";
import type { ProcessUsage } from "../lib/process-sampler.ts";
import type { RateStep } from "../lib/rate-search.ts";
import { formatTable } from "../lib/report-table.ts";
import {
  BARE_ECHO,
  cpuPerDecisionUs,
  ECHO_CEILING,
  FANOUT_CEILING,
  type GoalCheck,
  type TargetResult,
} from "./goals.ts";

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const sum = (xs: readonly number[]) => Math.round(xs.reduce((a, b) => a + b, 0) * 10) / 10;

/** The tables `npm run bench` prints: every step, a summary with the ceiling ratios, processes, goals. */
export function benchReport(
  results: readonly TargetResult[],
  goals: readonly GoalCheck[],
  ratioRate: number,
  repeat = 1,
): string {
  const stepRows = results.flatMap((r) => r.steps.map((s) => ({ target: r.name, ...s })));
  const steps = formatTable<RateStep & { target: string }>(
    [
      { header: "target", value: (s) => s.target },
      { header: "rate/s", value: (s) => s.rate },
      { header: "done/s", value: (s) => s.throughput },
      { header: "p50 ms", value: (s) => s.latency.p50 },
      { header: "p90 ms", value: (s) => s.latency.p90 },
      { header: "p99 ms", value: (s) => s.latency.p99 },
      { header: "p99.9 ms", value: (s) => s.latency.p999 },
      { header: "max ms", value: (s) => s.latency.max },
      { header: "errors", value: (s) => pct(s.errorRate), align: "right" },
      { header: "sold", value: (s) => s.soldShare?.toFixed(3) ?? "-", align: "right" },
      { header: "served CPU µs/req", value: (s) => cpuPerDecisionUs(s) ?? "-", align: "right" },
      { header: "gateway µs/req", value: (s) => cpuPerDecisionUs(s, "gateway") || "-", align: "right" },
      { header: "client CPU µs/req", value: (s) => s.clientCpuUs ?? "-", align: "right" },
      { header: "client lag p99 ms", value: (s) => s.clientLagP99 },
      { header: "machine busy %", value: (s) => s.machine?.busyPercent ?? "-", align: "right" },
      { header: "outside bench % core", value: (s) => s.machine?.outsidePercent ?? "-", align: "right" },
      { header: "SLO", value: (s) => (s.passed ? "pass" : "FAIL") },
    ],
    stepRows,
  );

  const bare = results.find((r) => r.name === BARE_ECHO);
  const echo = results.find((r) => r.name === ECHO_CEILING);
  const nats = results.find((r) => r.name === FANOUT_CEILING);
  const ratio = (a: number, b: number | undefined) => (b ? (a / b).toFixed(2) : "-");
  const p50At = (r: TargetResult | undefined) => r?.steps.find((s) => s.rate === ratioRate)?.latency.p50;
  const summary = formatTable<TargetResult>(
    [
      { header: "target", value: (r) => r.name },
      { header: "max rate p99<=SLO", value: (r) => r.maxPassingRate },
      { header: "sustained rate", value: (r) => r.sustainedRate },
      { header: "rate / bare", value: (r) => ratio(r.maxPassingRate, bare?.maxPassingRate), align: "right" },
      { header: "rate / echo", value: (r) => ratio(r.maxPassingRate, echo?.maxPassingRate), align: "right" },
      { header: "rate / nats", value: (r) => ratio(r.maxPassingRate, nats?.maxPassingRate), align: "right" },
      { header: `p50 @${ratioRate}/s ms`, value: (r) => p50At(r) ?? "-", align: "right" },
      { header: "p50 / bare p50", value: (r) => ratio(p50At(r) ?? 0, p50At(bare)), align: "right" },
      { header: "p50 / echo p50", value: (r) => ratio(p50At(r) ?? 0, p50At(echo)), align: "right" },
      { header: "note", value: (r) => r.error ?? "" },
    ],
    results,
  );

  // Processes at the highest step each target sustained (else its first step): where the CPU went.
  // CPU per request tells where a 2-core budget goes whatever the machine's speed: the sum over the mesh's
  // processes (the load client excluded) bounds the rate any machine of this size can sustain.
  const processRows = results.flatMap((r) => {
    const step = [...r.steps].reverse().find((s) => s.rate <= Math.max(r.sustainedRate, r.steps[0]?.rate ?? 0));
    if (!step) return [];
    const rows = step.processes.map((p) => ({ target: r.name, rate: step.rate, done: step.throughput, ...p }));
    const served = rows.filter((p) => p.name !== LOAD_CLIENT_NAME);
    const total = {
      name: "all but the load client",
      pid: 0,
      cpuPercent: sum(served.map((p) => p.cpuPercent)),
      peakRssMb: sum(served.map((p) => p.peakRssMb)),
    };
    return served.length > 1 ? [...rows, { target: r.name, rate: step.rate, done: step.throughput, ...total }] : rows;
  });
  const processes = formatTable<ProcessUsage & { target: string; rate: number; done: number }>(
    [
      { header: "target", value: (p) => p.target },
      { header: "rate/s", value: (p) => p.rate },
      { header: "process", value: (p) => p.name },
      { header: "CPU % of a core", value: (p) => p.cpuPercent },
      {
        header: "CPU µs / request",
        value: (p) => (p.done > 0 ? Math.round((p.cpuPercent / 100 / p.done) * 1e6) : "-"),
        align: "right",
      },
      { header: "peak RSS MiB", value: (p) => p.peakRssMb },
    ],
    processRows,
  );

  // Every step of every mesh, per process: where a decision's CPU goes as the rate climbs (and, with
  // --baseline-dir, the same for the other build, to compare row by row).
  const names = [...new Set(results.flatMap((r) => r.steps.flatMap((s) => s.processes.map((p) => p.name))))].filter(
    (n) => n !== LOAD_CLIENT_NAME,
  );
  const meshSteps = results
    .filter((r) => r.steps.some((s) => s.processes.length > 1))
    .flatMap((r) => r.steps.map((s) => ({ target: r.name, ...s })));
  const perDecision = (s: RateStep, name: string) => {
    const p = s.processes.find((q) => q.name === name);
    return p && s.throughput > 0 ? Math.round((p.cpuPercent / 100 / s.throughput) * 1e6) : "-";
  };
  const byProcess = formatTable<RateStep & { target: string }>(
    [
      { header: "target", value: (s) => s.target },
      { header: "rate/s", value: (s) => s.rate },
      { header: "done/s", value: (s) => s.throughput },
      ...names.map((name) => ({ header: name, value: (s: RateStep) => perDecision(s, name), align: "right" as const })),
      { header: "whole mesh", value: (s) => cpuPerDecisionUs(s) ?? "-", align: "right" },
      { header: "load client µs/req", value: (s) => s.clientCpuUs ?? "-", align: "right" },
      { header: "sold", value: (s) => s.soldShare?.toFixed(3) ?? "-", align: "right" },
      { header: "outside bench % core", value: (s) => s.machine?.outsidePercent ?? "-", align: "right" },
    ],
    meshSteps,
  );

  const idleRows = results.flatMap((r) => {
    if (!r.idle) return [];
    const total = { name: "whole mesh", pid: 0, cpuPercent: sum(r.idle.map((p) => p.cpuPercent)), peakRssMb: 0 };
    return [...r.idle, total].map((p) => ({ target: r.name, ...p }));
  });
  const idle = formatTable<ProcessUsage & { target: string }>(
    [
      { header: "target", value: (p) => p.target },
      { header: "process", value: (p) => p.name },
      { header: "CPU % of a core", value: (p) => p.cpuPercent },
      { header: "RSS MiB", value: (p) => p.peakRssMb || "-" },
    ],
    idleRows,
  );

  const goalTable = formatTable<GoalCheck>(
    [
      { header: "goal", value: (g) => g.goal },
      { header: "measured", value: (g) => g.measured },
      { header: "met", value: (g) => (g.met === undefined ? "-" : g.met ? "yes" : "NO") },
    ],
    goals,
  );
  return [
    repeat > 1
      ? `Steps (open loop, latency from intended send time; per rate, the run with the median p99 of ${repeat})`
      : "Steps (open loop, latency from intended send time)",
    steps,
    "",
    "Summary",
    summary,
    "",
    "Processes (at the highest sustained step, else the first)",
    processes,
    "",
    ...(meshSteps.length
      ? ["CPU per decision by process, µs (every step; CPU of the step / decisions done)", byProcess, ""]
      : []),
    ...(idleRows.length ? ["Idle mesh (no load, before the warm-up)", idle, ""] : []),
    "Goals",
    goalTable,
  ].join("\n");
}
