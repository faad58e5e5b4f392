/**
 * npm run bench:decide — the decide pipeline, everything real: nats-server, the catalog KV (demo catalog, 144
 * candidates, and a larger one from the same generator), every agent running with learned state (playback
 * history, auction outcomes, impressions and responses), the WASM kernel inline and in its pool.
 *
 * Per (catalog, kernel, coordination): CPU per decision (process.cpuUsage over a closed loop), service time of
 * one decide at a time, and open-loop latency at a fixed arrival rate (HDR histograms); for cached coordination,
 * each agent's vote alone too. Agents run in this process on their own NATS connection (default: the CPU then
 * includes their votes and their learning from every outcome) or, with --agents=child, in an agent host process
 * whose CPU is reported apart (this process is then the gateway side alone).
 *
 *   npm run bench:decide -- --quick
 *   npm run bench:decide -- --creatives=1000,10000,100000 --modes=cached --kernels=pool   (retrieval: cost by catalog size)
 *   npm run bench:decide -- --agents=child --modes=cached
 *   node --cpu-prof --cpu-prof-dir=.scratch-prof --import tsx bench/decide/decide-bench.ts --sizes=12 --modes=cached
 */
import { cpus, loadavg } from "node:os";
import { Code, ConnectError } from "@connectrpc/connect";
import { jetstream } from "@nats-io/jetstream";
import { Command } from "commander";
import {
  type ClosableDecisionEngine,
  type Coordination,
  createDecisionEngine,
  DEFAULT_MAX_LOOP_LAG_MS,
} from "../../gateway/decide/decision-engine.ts";
import { DEFAULT_MAX_CANDIDATES, Retriever } from "../../gateway/decide/retrieval.ts";
import type { DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { createSeededRandom } from "../../lib/random/seeded-random.ts";
import { loadModuleConfig } from "../../modules/module-config.ts";
import { AgentStateStore, openAgentStateBucket } from "../../voting/mirror/agent-state-store.ts";
import { SignalMirror } from "../../voting/mirror/signal-mirror.ts";
import { agentLoaders, loadAgents } from "../../voting/registry/agent-loaders.ts";
import { startAgentScoring } from "../../voting/registry/start-agent-scoring.ts";
import { KernelPool } from "../../wasm-core/src/kernel-pool.ts";
import { readKernelWasm } from "../../wasm-core/src/kernel-wasm.ts";
import { createLatencyHistogram, type LatencySummary, summarize } from "../lib/latency-histogram.ts";
import { runOpenLoop } from "../lib/open-loop.ts";
import { treeUsage } from "../lib/process-sampler.ts";
import { formatTable, writeJson } from "../lib/report-table.ts";
import { type AgentPlacement, type DecideMesh, feedPlayback, publishEvents, startDecideMesh } from "./decide-mesh.ts";

const program = new Command()
  .name("bench:decide")
  .option("--sizes <advertisers>", "catalog sizes in advertisers (12 per 144 candidates)", "12,84")
  .option(
    "--creatives <list>",
    "catalog sizes in creatives instead (10 per campaign, 3 campaigns per advertiser: 100,000 = 10,000 campaigns)",
  )
  .option("--max-candidates <n>", "retrieval: N, the most candidates a decision sees (default: the gateway's)")
  .option("--modes <list>", "coordination modes", "cached,parallel,sequential")
  .option("--kernels <list>", "kernel modes", "inline,pool")
  .option("--decisions <n>", "closed-loop decisions per case (CPU and service time)", "3000")
  .option("--rate <n>", "open-loop arrivals per second (cached; parallel and sequential use a fifth)", "1000")
  .option("--seconds <n>", "open-loop duration", "3")
  .option("--agents <where>", "in-process (own NATS connection) or child (an agents/host.ts process)", "in-process")
  .option(
    "--agent-modules <where>",
    "vote with the agents' WASM scoring modules: inline (the shipped build, as gateway/main.ts runs it) or worker (each in its worker with a time limit, as a published version runs)",
  )
  .option("--quick", "fewer decisions and shorter runs")
  .option(
    "--overload",
    "cached only: find the highest sustained rate (steps x1.5 from 10/s: errors <= 1%, p99 <= deadline), then offer twice it",
  )
  .option("--json <path>", "result file", "bench-results/decide.json")
  .parse();
const opts = program.opts<{
  sizes: string;
  creatives?: string;
  maxCandidates?: string;
  modes: string;
  kernels: string;
  decisions: string;
  rate: string;
  seconds: string;
  agents: AgentPlacement;
  agentModules?: "inline" | "worker";
  quick?: boolean;
  overload?: boolean;
  json: string;
}>();
if (opts.agents !== "in-process" && opts.agents !== "child") throw new Error("--agents: in-process or child");
if (opts.agentModules !== undefined && opts.agentModules !== "inline" && opts.agentModules !== "worker")
  throw new Error("--agent-modules: inline or worker");
const list = (s: string) => s.split(",").filter(Boolean);
const decisions = opts.quick ? 600 : Number(opts.decisions);
const seconds = opts.quick ? 1 : Number(opts.seconds);
const logger = createLogger("bench-decide", "warn");

interface CaseResult {
  /** Creatives in the catalog (servable candidates). */
  candidates: number;
  /** Retrieval: slices taken from cache vs built (or checked again) during the measured decisions. */
  retrieval: { hits: number; misses: number; rechecks: number } | undefined;
  kernel: string;
  coordination: Coordination;
  cpuUsPerDecision: number;
  /** The agent host's CPU per decision (child placement only). */
  agentCpuUsPerDecision: number | undefined;
  service: LatencySummary;
  rate: number;
  openLoop: LatencySummary & { errors: number };
  filled: number;
  overload?: Overload;
}

interface Step {
  rate: number;
  offered: number;
  answered: number;
  goodputPerSecond: number;
  p99: number;
  /** Failed calls by status code (RESOURCE_EXHAUSTED: refused at admission). */
  codes: Record<string, number>;
}

interface Overload {
  steps: Step[];
  sustained: number;
  twice: Step;
  /** Goodput at twice the sustained rate over the sustained rate (goal: at least 0.8). */
  goodputShare: number;
  refusedShare: number;
}

interface VoteCost {
  candidates: number;
  agent: string;
  us: LatencySummary;
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

async function measureCase(mesh: DecideMesh, engine: ClosableDecisionEngine, kernel: string): Promise<CaseResult> {
  const { requests } = mesh;
  const coordination = engine.coordination;
  const n = coordination === "cached" ? decisions : Math.ceil(decisions / 3);
  for (let i = 0; i < Math.min(200, n); i++) await engine.decide(requests[i % requests.length]!, {});
  const service = createLatencyHistogram();
  let filled = 0;
  const host = mesh.agentHost?.pid;
  const hostTicks0 = host ? treeUsage(host).ticks : 0;
  const r0 = { ...engine.retrievalStats };
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await engine.decide(requests[i % requests.length]!, {});
    service.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
    if (res.ads.length > 0) filled++;
  }
  const cpu = process.cpuUsage(cpu0);
  const r1 = engine.retrievalStats;
  const retrieval = r1 && {
    hits: r1.hits - (r0.hits ?? 0),
    misses: r1.misses - (r0.misses ?? 0),
    rechecks: r1.rechecks - (r0.rechecks ?? 0),
  };
  // /proc reports clock ticks of 10 ms: over thousands of decisions that is precise enough.
  const hostUs = host ? (treeUsage(host).ticks - hostTicks0) * 10_000 : undefined;
  const rate = coordination === "cached" ? Number(opts.rate) : Math.round(Number(opts.rate) / 5);
  let next = 0;
  const open = await runOpenLoop({
    rate,
    durationMs: seconds * 1000,
    send: (done) => {
      engine.decide(requests[next++ % requests.length]!, {}).then(
        (res) => done(undefined, res.ads.length),
        (err: unknown) => done(err instanceof ConnectError ? Code[err.code] : String(err), 0),
      );
    },
  });
  return {
    candidates: mesh.view.inventory.size,
    retrieval,
    kernel,
    coordination,
    cpuUsPerDecision: round((cpu.user + cpu.system) / n),
    agentCpuUsPerDecision: hostUs === undefined ? undefined : round(hostUs / n),
    service: summarize(service),
    rate,
    openLoop: { ...summarize(open.latency), errors: open.errors },
    filled: round(filled / n, 3),
  };
}

/** One open-loop step at `rate`: answered decisions per second and failures by status code. */
async function step(engine: ClosableDecisionEngine, requests: readonly DecideRequest[], rate: number): Promise<Step> {
  const codes: Record<string, number> = {};
  let next = 0;
  const stepSeconds = opts.quick ? 5 : 10;
  const r = await runOpenLoop({
    rate,
    durationMs: stepSeconds * 1000,
    send: (done) => {
      engine.decide(requests[next++ % requests.length]!, {}).then(
        (res) => done(undefined, res.ads.length),
        (err: unknown) => {
          const code = err instanceof ConnectError ? Code[err.code] : "error";
          codes[code] = (codes[code] ?? 0) + 1;
          done(code, 0);
        },
      );
    },
  });
  const s: Step = {
    rate,
    offered: r.issued,
    answered: r.completed,
    goodputPerSecond: round(r.completed / stepSeconds, 1),
    p99: summarize(r.latency).p99,
    codes,
  };
  process.stderr.write(`  ${rate}/s: ${s.goodputPerSecond} answered/s, p99 ${s.p99} ms, ${JSON.stringify(codes)}\n`);
  return s;
}

/**
 * Capacity, then overload: steps up (x1.5 from 10/s) while a step is sustained (at most 1% failed, p99 within the
 * 1 s deadline); the last sustained rate is the capacity. A step that fails is tried once more before it ends the
 * search (a shared machine's hiccup, or the previous run's backlog, is not the capacity). Then twice it: goodput
 * against capacity, and what was refused with which code (admission answers RESOURCE_EXHAUSTED at once rather than
 * timing out).
 */
async function overloadSteps(engine: ClosableDecisionEngine, requests: readonly DecideRequest[]): Promise<Overload> {
  const steps: Step[] = [];
  let sustained = 0;
  const held = (s: Step) => s.offered - s.answered <= s.offered * 0.01 && s.p99 <= 1_000;
  await new Promise((r) => setTimeout(r, 2_000)); // the previous measurement's backlog drains
  for (let rate = 10; rate <= 20_000; rate = Math.round(rate * 1.5)) {
    let s = await step(engine, requests, rate);
    steps.push(s);
    if (!held(s)) {
      s = await step(engine, requests, rate);
      steps.push(s);
      if (!held(s)) break;
    }
    sustained = rate;
  }
  const twice = await step(engine, requests, Math.max(1, sustained * 2));
  // Codes as Code[] names them (ResourceExhausted is RESOURCE_EXHAUSTED on the wire).
  const refused = (twice.codes.ResourceExhausted ?? 0) + (twice.codes.Unavailable ?? 0);
  return {
    steps,
    sustained,
    twice,
    goodputShare: sustained > 0 ? round(twice.goodputPerSecond / sustained, 3) : 0,
    refusedShare: round(refused / Math.max(1, twice.offered), 3),
  };
}

/** Each agent's pure vote on the gateway's mirror of its signals: where a cached decide spends its CPU. */
async function measureVotes(mesh: DecideMesh): Promise<VoteCost[]> {
  const store = new AgentStateStore(await openAgentStateBucket(jetstream(mesh.nc)));
  const mirrors = await Promise.all(mesh.modules.map((m) => SignalMirror.open(mesh.nc, m, { store, logger })));
  await new Promise((r) => setTimeout(r, 1_200)); // one heartbeat: every key's latest signal
  const catalog = mesh.view.inventory;
  // Votes are on what a decision sees: the retrieval slice of the request.
  const retriever = new Retriever({ maxCandidates: Number(opts.maxCandidates ?? DEFAULT_MAX_CANDIDATES) });
  const out: VoteCost[] = [];
  for (const mirror of mirrors) {
    const h = createLatencyHistogram();
    for (let i = 0; i < decisions; i++) {
      const request = mesh.requests[i % mesh.requests.length]!;
      const inventory = retriever.retrieve(catalog, request, Date.now());
      const ctx = { runId: crypto.randomUUID(), request, inventory, nowMs: Date.now(), priorVotes: [] };
      const t0 = performance.now();
      mirror.module.vote(ctx, mirror.state);
      h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
    }
    out.push({ candidates: catalog.size, agent: mirror.module.name, us: summarize(h) });
    mirror.close();
  }
  return out;
}

/** Playback history, then decisions whose winners get impressions and responses, so every agent has learned. */
async function warmUp(mesh: DecideMesh, engine: ClosableDecisionEngine): Promise<void> {
  await feedPlayback(mesh.nc, mesh.requests);
  await new Promise((r) => setTimeout(r, 300));
  const random = createSeededRandom(3);
  const warm = opts.quick ? 1_000 : 3_000;
  for (let i = 0; i < warm; i++) {
    const request = mesh.requests[i % mesh.requests.length]!;
    const res = await engine.decide(request, {});
    publishEvents(mesh.nc, res.decisionId, request.user!.userId, res.ads, 0.5, random);
    if (i % 100 === 99) await new Promise((r) => setImmediate(r));
  }
  await mesh.nc.flush();
  await new Promise((r) => setTimeout(r, 1_200)); // signals and heartbeats carry the learned state
}

async function main(): Promise<void> {
  const cases: CaseResult[] = [];
  const votes: VoteCost[] = [];
  const sizes = opts.creatives
    ? list(opts.creatives).map((c) => ({ advertisers: Math.ceil(Number(c) / 30), creativesPerCampaign: 10 }))
    : list(opts.sizes).map((a) => ({ advertisers: Number(a), creativesPerCampaign: 4 }));
  const retrieval = opts.maxCandidates ? { maxCandidates: Number(opts.maxCandidates) } : undefined;
  for (const { advertisers, creativesPerCampaign } of sizes) {
    const loadStart = performance.now();
    const mesh = await startDecideMesh(advertisers, opts.agents, logger, { creativesPerCampaign });
    process.stderr.write(
      `catalog of ${mesh.view.inventory.size} creatives loaded in ${Math.round(performance.now() - loadStart)} ms\n`,
    );
    const kernels = new Map<string, KernelPool>();
    for (const mode of list(opts.kernels)) {
      const pool = new KernelPool({
        mode: mode as "inline" | "pool",
        size: 1,
        moduleBytes: readKernelWasm("simd"),
        moduleVersion: "kernel@bench",
      });
      await pool.ready();
      kernels.set(mode, pool);
    }
    const [firstKernel] = kernels.values();
    const warmEngine = await createDecisionEngine({
      nc: mesh.nc,
      catalogView: mesh.view,
      kernel: firstKernel!,
      coordination: "cached",
      deadlineMs: 1_000,
      logger,
    });
    await warmUp(mesh, warmEngine);
    warmEngine.close();
    process.stderr.write(`catalog of ${mesh.view.inventory.size} candidates warmed up\n`);
    if (list(opts.modes).includes("cached")) votes.push(...(await measureVotes(mesh)));
    const scoring = opts.agentModules
      ? await startAgentScoring(await loadAgents(Object.keys(agentLoaders)), {
          js: jetstream(mesh.nc),
          nc: mesh.nc,
          config: loadModuleConfig(),
          actor: "bench-gateway",
          logger,
          inlineShippedBuild: opts.agentModules === "inline",
        })
      : undefined;
    for (const [kernelMode, kernel] of kernels) {
      for (const coordination of list(opts.modes) as Coordination[]) {
        const engineOptions = {
          nc: mesh.nc,
          catalogView: mesh.view,
          kernel,
          modules: scoring?.modules,
          coordination,
          deadlineMs: 1_000,
          logger,
          retrieval,
        };
        const engine = await createDecisionEngine(engineOptions);
        await new Promise((r) => setTimeout(r, 1_100)); // the engine's mirrors hear every agent (cached)
        const result = await measureCase(mesh, engine, kernelMode);
        engine.close();
        if (opts.overload && coordination === "cached") {
          // Admission and shedding as the gateway has them (GATEWAY_MAX_LOOP_LAG_MS): the closed-loop measures
          // above run without the lag check, which a shared machine's scheduling alone can trip.
          const shedding = await createDecisionEngine({ ...engineOptions, maxLoopLagMs: DEFAULT_MAX_LOOP_LAG_MS });
          await new Promise((r) => setTimeout(r, 1_100));
          result.overload = await overloadSteps(shedding, mesh.requests);
          shedding.close();
        }
        cases.push(result);
        process.stderr.write(`${result.candidates} ${kernelMode} ${coordination}: ${result.cpuUsPerDecision} µs CPU\n`);
      }
    }
    for (const k of kernels.values()) await k.close();
    await scoring?.close();
    await mesh.close();
  }

  console.log(`\nDecide pipeline (agents ${opts.agents}, real NATS and kernel): CPU per decision and latency (ms)\n`);
  console.log(
    formatTable(
      [
        { header: "N", value: (r: CaseResult) => r.candidates },
        { header: "kernel", value: (r) => r.kernel, align: "left" },
        { header: "mode", value: (r) => r.coordination, align: "left" },
        { header: "CPU µs/decision", value: (r) => r.cpuUsPerDecision },
        { header: "agents CPU µs", value: (r) => r.agentCpuUsPerDecision ?? "-", align: "right" },
        { header: "service p50", value: (r) => r.service.p50 },
        { header: "service p99", value: (r) => r.service.p99 },
        { header: "rate/s", value: (r) => r.rate },
        { header: "open p50", value: (r) => r.openLoop.p50 },
        { header: "open p99", value: (r) => r.openLoop.p99 },
        { header: "open p99.9", value: (r) => r.openLoop.p999 },
        { header: "errors", value: (r) => r.openLoop.errors },
        { header: "filled", value: (r) => r.filled },
        {
          header: "slice hits",
          value: (r) =>
            r.retrieval
              ? round(r.retrieval.hits / Math.max(1, r.retrieval.hits + r.retrieval.misses + r.retrieval.rechecks), 3)
              : "-",
        },
      ],
      cases,
    ),
  );
  // The retrieval goal: a decision on the largest catalog costs at most twice one on the smallest.
  const smallest = Math.min(...cases.map((c) => c.candidates));
  const byCatalog = cases.map((c) => {
    const base = cases.find(
      (b) => b.candidates === smallest && b.kernel === c.kernel && b.coordination === c.coordination,
    );
    return {
      ...c,
      cpuRatio: base ? round(c.cpuUsPerDecision / base.cpuUsPerDecision, 2) : Number.NaN,
      p50Ratio: base ? round(c.service.p50 / base.service.p50, 2) : Number.NaN,
    };
  });
  if (new Set(cases.map((c) => c.candidates)).size > 1) {
    console.log(`\nCost by catalog size, against the ${smallest}-creative catalog (goal: at most 2x)\n`);
    console.log(
      formatTable(
        [
          { header: "creatives", value: (r: (typeof byCatalog)[number]) => r.candidates },
          { header: "kernel", value: (r) => r.kernel, align: "left" },
          { header: "mode", value: (r) => r.coordination, align: "left" },
          { header: "CPU µs/decision", value: (r) => r.cpuUsPerDecision },
          { header: "x CPU", value: (r) => r.cpuRatio },
          { header: "service p50 ms", value: (r) => r.service.p50 },
          { header: "x p50", value: (r) => r.p50Ratio },
        ],
        byCatalog,
      ),
    );
  }
  if (votes.length > 0) {
    console.log("\nEach agent's vote on the gateway's mirror of its signals (cached coordination), µs\n");
    console.log(
      formatTable(
        [
          { header: "N", value: (r: VoteCost) => r.candidates },
          { header: "agent", value: (r) => r.agent, align: "left" },
          { header: "mean", value: (r) => round(r.us.mean * 1000) },
          { header: "p50", value: (r) => round(r.us.p50 * 1000) },
          { header: "p99", value: (r) => round(r.us.p99 * 1000) },
        ],
        votes,
      ),
    );
  }
  console.log(
    opts.agents === "in-process"
      ? "\n(CPU includes the in-process agents: their votes in parallel/sequential, their learning from every outcome.)"
      : "\n(CPU: this process, the gateway side; agents CPU: the agent host process, per decision.)",
  );
  for (const c of cases)
    if (c.overload) {
      const o = c.overload;
      console.log(
        `\nOverload (${c.candidates} creatives, ${c.kernel}): capacity ${o.sustained}/s; offered ${o.twice.rate}/s -> goodput ${o.twice.goodputPerSecond}/s (${round(o.goodputShare * 100, 1)}% of capacity, goal >= 80%), refused ${round(o.refusedShare * 100, 1)}% ${JSON.stringify(o.twice.codes)}, p99 of answers ${o.twice.p99} ms\n`,
      );
      console.log(
        formatTable(
          [
            { header: "offered/s", value: (st: Step) => st.rate },
            { header: "answered/s", value: (st) => st.goodputPerSecond },
            { header: "p99 ms", value: (st) => st.p99 },
            { header: "failed by code", value: (st) => JSON.stringify(st.codes), align: "left" },
          ],
          [...o.steps, o.twice],
        ),
      );
    }
  const path = writeJson(opts.json, {
    benchmark: "decide",
    at: new Date().toISOString(),
    node: process.version,
    cpus: cpus().map((c) => c.model),
    loadavg: loadavg(),
    options: { ...opts, decisions, seconds },
    cases: byCatalog,
    votes,
  });
  console.log(`results: ${path}`);
}

await main();
