/**
 * npm run bench:catalog -- --creatives 1000,10000,100000
 *
 * What a decision costs as the catalog grows, in one process and without NATS (so that a crowded machine or the
 * bus does not hide the catalog's part): the retrieval stage, every agent's vote on the slice (agent states as
 * after learning from a few thousand outcomes is not modelled: fresh states), the kernel request and the WASM
 * kernel (inline), per decision. CPU per decision (process.cpuUsage over the loop) and service time p50/p99, at
 * each catalog size, and the ratio to the smallest. The same request pool at every size. `--full-scan` also runs
 * the smallest catalog without retrieval, for comparison. JSON in --json.
 */

import { fromBinary } from "@bufbuild/protobuf";
import { Command } from "commander";
import { buildKernelRequest } from "../../gateway/decide/build-kernel-request.ts";
import { residentInventories } from "../../gateway/decide/kernel-port.ts";
import { DEFAULT_MAX_CANDIDATES, Retriever } from "../../gateway/decide/retrieval.ts";
import { DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import { demoCatalog } from "../../lib/demo/demo-catalog.ts";
import { demoInventory } from "../../lib/demo/demo-inventory.ts";
import { VOTING_AGENTS } from "../../lib/subjects.ts";
import { kernelWeights } from "../../voting/orchestrator/vote.ts";
import { loadAgents } from "../../voting/registry/agent-loaders.ts";
import { KernelPool } from "../../wasm-core/src/kernel-pool.ts";
import { readKernelWasm } from "../../wasm-core/src/kernel-wasm.ts";
import { DEFAULT_RESIDENT_INVENTORIES } from "../../wasm-core/src/resident-inventories.ts";
import { createLatencyHistogram, summarize } from "../lib/latency-histogram.ts";
import { formatTable, writeJson } from "../lib/report-table.ts";
import { decideRequests } from "../mesh/decide-requests.ts";

const opts = new Command()
  .option("--creatives <list>", "catalog sizes (10 creatives per campaign)", "1000,10000,100000")
  .option("--decisions <n>", "decisions per size", "2000")
  .option("--max-candidates <n>", "retrieval N", String(DEFAULT_MAX_CANDIDATES))
  .option("--runs <n>", "runs per size (the median is reported)", "3")
  .option("--json <path>", "result file", "bench-results/catalog-scale.json")
  .parse()
  .opts<{ creatives: string; decisions: string; maxCandidates: string; runs: string; json: string }>();

const requests = decideRequests(512, 42).bodies.map((b) => {
  const r = fromBinary(DecideRequestSchema, Buffer.from(b, "base64"));
  r.placement!.forceNow = true;
  return r;
});
const modules = (await loadAgents(VOTING_AGENTS)).map((module) => ({ module, state: module.createState() }));
const agents = VOTING_AGENTS.filter((a) => modules.some((m) => m.module.name === a));

interface Row {
  creatives: number;
  campaigns: number;
  retrieval: string;
  cpuUsPerDecision: number;
  p50Us: number;
  p99Us: number;
  candidatesPerDecision: number;
  sliceHitRate: number;
  filled: number;
}

async function measure(catalog: Inventory, retriever: Retriever | undefined, n: number) {
  const kernel = new KernelPool({
    mode: "inline",
    moduleBytes: readKernelWasm("simd"),
    moduleVersion: "bench",
    capacity: { maxCandidates: 4096, maxDimensions: catalog.dim, maxAgents: 8 },
  });
  // The engine's own bookkeeping: the kernel keeps the last DEFAULT_RESIDENT_INVENTORIES slices, not every one.
  const ensureResident = residentInventories(kernel, DEFAULT_RESIDENT_INVENTORIES);
  const h = createLatencyHistogram();
  let candidates = 0;
  let filled = 0;
  const one = async (i: number) => {
    const request = requests[i % requests.length]!;
    const nowMs = Date.now();
    const inventory = retriever ? retriever.retrieve(catalog, request, nowMs) : catalog;
    const ctx = {
      runId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      request,
      inventory,
      nowMs,
      priorVotes: [],
    };
    const votes = new Map(modules.map(({ module, state }) => [module.name, module.vote(ctx, state)]));
    const inputs = buildKernelRequest(
      inventory,
      request,
      votes,
      agents,
      kernelWeights(votes.get("orchestrator"), agents, new Set()),
      undefined,
    );
    ensureResident(inventory);
    const result = await kernel.decide(inputs.request);
    candidates += inventory.size;
    if (result.count > 0) filled++;
  };
  for (let i = 0; i < 300; i++) await one(i); // warm: JIT, slices, per-inventory caches
  const stats0 = retriever ? { ...retriever.stats } : undefined;
  candidates = 0;
  filled = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await one(i);
    h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
  }
  const cpu = process.cpuUsage(cpu0);
  await kernel.close();
  const s = summarize(h);
  const st = retriever?.stats;
  const lookups =
    st && stats0 ? st.hits + st.misses + st.rechecks - (stats0.hits + stats0.misses + stats0.rechecks) : 0;
  return {
    cpuUsPerDecision: Math.round((cpu.user + cpu.system) / n),
    p50Us: Math.round(s.p50 * 1000),
    p99Us: Math.round(s.p99 * 1000),
    candidatesPerDecision: Math.round(candidates / n),
    sliceHitRate: st && stats0 && lookups ? Math.round(((st.hits - stats0.hits) / lookups) * 1000) / 1000 : 0,
    filled: Math.round((filled / n) * 1000) / 1000,
  };
}

const median = <T>(xs: T[], key: (x: T) => number) =>
  [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)]!;
const rows: Row[] = [];
const sizes = opts.creatives.split(",").map(Number);
for (const size of sizes) {
  const catalogData = demoCatalog({ advertisers: Math.ceil(size / 30), creativesPerCampaign: 10, seed: 7 });
  const t0 = performance.now();
  const catalog = demoInventory(catalogData);
  process.stderr.write(`${catalog.size} creatives: inventory built in ${Math.round(performance.now() - t0)} ms\n`);
  const modes: [string, Retriever | undefined][] = [
    [`N=${opts.maxCandidates}`, new Retriever({ maxCandidates: Number(opts.maxCandidates) })],
  ];
  if (size === sizes[0] && catalog.size <= 4096) modes.push(["full scan", undefined]);
  for (const [label, retriever] of modes) {
    const runs = [];
    for (let r = 0; r < Number(opts.runs); r++) runs.push(await measure(catalog, retriever, Number(opts.decisions)));
    const m = median(runs, (x) => x.cpuUsPerDecision);
    rows.push({ creatives: catalog.size, campaigns: catalogData.campaigns.length, retrieval: label, ...m });
    process.stderr.write(
      `${catalog.size} ${label}: ${m.cpuUsPerDecision} µs CPU/decision (runs ${runs.map((x) => x.cpuUsPerDecision).join(", ")})\n`,
    );
  }
}
const base = rows[0]!;
console.log("\nDecision cost by catalog size (retrieval, all agents' votes, WASM kernel; in-process, no NATS)\n");
console.log(
  formatTable(
    [
      { header: "creatives", value: (r: Row) => r.creatives },
      { header: "campaigns", value: (r: Row) => r.campaigns },
      { header: "retrieval", value: (r: Row) => r.retrieval, align: "left" },
      { header: "candidates/decision", value: (r: Row) => r.candidatesPerDecision },
      { header: "CPU µs/decision", value: (r: Row) => r.cpuUsPerDecision },
      { header: "x smallest", value: (r: Row) => Math.round((r.cpuUsPerDecision / base.cpuUsPerDecision) * 100) / 100 },
      { header: "p50 µs", value: (r: Row) => r.p50Us },
      { header: "p99 µs", value: (r: Row) => r.p99Us },
      { header: "slice hits", value: (r: Row) => r.sliceHitRate },
      { header: "filled", value: (r: Row) => r.filled },
    ],
    rows,
  ),
);
console.log(
  `results: ${writeJson(opts.json, { benchmark: "catalog-scale", at: new Date().toISOString(), node: process.version, options: opts, rows })}`,
);
