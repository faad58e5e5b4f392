/**
 * npm run soak -- --minutes 30
 *
 * The whole mesh as separate processes (nats-server, ledger, Budget, agent hosts, gateway) under mixed open-loop
 * load for a long time: Decide at a fixed rate, ReportPlayback for every fourth decision, ReportEvents for the ads
 * served (impressions, completes, clicks; one report in ten sent twice, to exercise exactly-once). Each decision
 * comes from the next listener of a large pool (--users), so frequency caps never fill and the sold share (printed
 * per minute) stays the same all run long; the demo catalog's budgets are scaled (--budget-scale) so that no campaign
 * runs out within the run, for the same reason. The rate is half the capacity measured first by a short step search after
 * a warm-up (or --rate). Every minute: rate, p50/p99, errors, memory (RSS)
 * and CPU of every process, this load client's included. At the end the ledger must equal the unique impressions
 * the gateway accepted (count and spend, per campaign). Verdicts: memory growth after minute 5 under 10%, p99
 * within 1.5x of the first five minutes, no errors, ledger exact. Table on stdout and in --markdown, JSON in --json.
 * The rate ramps up over --warmup-seconds. A supervised process that is restarted meanwhile is followed to its new
 * pid (its memory and CPU measured from then on) and the restart is reported as an event, per minute and in total;
 * memory is also summarised as start / middle / end and its slope after the warm-up.
 * --client raw: Decide (probe and run) from lean load client processes of their own (bench/lib/load-client.ts), so
 * that under --overload refusals do not wait for CPU the client takes; their CPU is reported on its own line.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname } from "node:path";
import { create, fromBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Command } from "commander";
import type * as hdr from "hdr-histogram-js";
import { withApiKey } from "../../gateway/auth/client-key.ts";
import { DEFAULT_MAX_LOOP_LAG_MS } from "../../gateway/decide/decision-engine.ts";
import {
  type AdEvent,
  AdEventSchema,
  AdEventType,
  type DecideRequest,
  DecideRequestSchema,
  type DecideResponse,
  DecideResponseSchema,
  DecisionService,
  EventResult_Status,
  PlaybackSignalSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import { startMesh } from "../../launch/mesh.ts";
import { queryLedger } from "../../ledger/ledger.ts";
import type { MemoryReport } from "../../lib/process/child-lifecycle.ts";
import { pooledValue } from "../lib/http2-unary-sender.ts";
import { createLatencyHistogram } from "../lib/latency-histogram.ts";
import { LoadClient } from "../lib/load-client-handle.ts";
import { LOAD_CLIENT_NAME, mergeLoadClients } from "../lib/measure-step.ts";
import { runOpenLoop } from "../lib/open-loop.ts";
import { ProcessSampler, type ProcessUsage, type RestartEvent } from "../lib/process-sampler.ts";
import { formatTable, writeJson } from "../lib/report-table.ts";
import { BUDGET_SCALE, decideRequests, USER_POOL } from "../mesh/decide-requests.ts";
import {
  type DecideMinute,
  decideMinute,
  PROBE_RATES,
  probeCapacityRaw,
  rawDecideTarget,
  rawListener,
} from "./raw-decide-load.ts";

const opts = new Command()
  .name("soak")
  .option("--minutes <n>", "how long to run", "30")
  .option("--rate <n>", "decisions per second (default: half the capacity measured first)")
  .option(
    "--overload <factor>",
    "overload run: offer this many times the probed capacity (e.g. 2) and report goodput and how fast the rest is refused",
  )
  .option(
    "--live-heap",
    "each minute, also force a full collection in every process and report its live heap (the collection stalls a busy process for hundreds of ms, so it costs p99 and refusals in that minute: for finding leaks, not for the verdict)",
  )
  .option("--probe-seconds <n>", "length of each capacity probe step", "8")
  .option("--probe-p99-ms <n>", "a probe step is sustained with p99 under this (and >= 95% answered, no errors)", "100")
  .option(
    "--probe-warmup-seconds <n>",
    "before the probe, load the mesh at a low rate this long (JIT, caches, leases): a cold first step is no capacity",
    "20",
  )
  .option(
    "--users <n>",
    "listeners the load walks through (a power of ten), each once per this many decisions: frequency caps never fill, so the sold share stays the same from the first minute to the last",
    String(USER_POOL),
  )
  .option(
    "--budget-scale <n>",
    "multiply the demo catalog's budgets: at the demo's own budgets the campaigns run out within minutes and the sold share (and the work behind it) falls all run long",
    String(BUDGET_SCALE),
  )
  .option("--warmup-seconds <n>", "ramp the rate from a tenth to full over this long (a new server's slow start)", "30")
  .option(
    "--settle-minutes <n>",
    "memory growth and the p99 ratio are judged against this minute (the issue's verdict: 5; a short run: less)",
    "5",
  )
  .option(
    "--connections <n>",
    "HTTP/2 connections the calls are spread over (players each have their own; one connection queues calls past the gateway's 100 streams in the client)",
    "16",
  )
  .option(
    "--client <kind>",
    "who sends Decide: connect-node (in this process, with ReportPlayback and ReportEvents and the ledger check) or raw (gRPC over raw HTTP/2 from separate lean load client processes, bench/lib/load-client.ts: for --overload, so that refusals do not wait for CPU the client takes; the capacity probe uses it too). With raw, ReportPlayback (paced at a quarter of the rate) and ReportEvents (for every answer with ads, which the load client hands back) stay on connect-node in this process, and the ledger is checked as before",
    "connect-node",
  )
  .option("--client-processes <n>", "with --client raw: load client processes the rate is split over", "1")
  .option(
    "--no-events",
    "with --client raw: no ReportPlayback or ReportEvents at all (Decide only, nothing left on connect-node; the ledger is not judged)",
  )
  .option("--port <n>", "gateway port", process.env.GATEWAY_PORT ?? "8160")
  .option("--json <path>", "result file", "bench-results/soak.json")
  .option("--markdown <path>", "the per-minute table as markdown", "bench-results/soak.md")
  .parse()
  .opts<{
    minutes: string;
    rate?: string;
    overload?: string;
    liveHeap?: boolean;
    probeSeconds: string;
    probeP99Ms: string;
    probeWarmupSeconds: string;
    users: string;
    budgetScale: string;
    warmupSeconds: string;
    settleMinutes: string;
    connections: string;
    client: string;
    clientProcesses: string;
    events: boolean;
    port: string;
    json: string;
    markdown: string;
  }>();

const minutes = Number(opts.minutes);
if (opts.client !== "connect-node" && opts.client !== "raw")
  throw new Error(`--client must be connect-node or raw, got ${opts.client}`);
const raw = opts.client === "raw";
/** --client raw without --no-events: playback and events from this process over connect-node. */
const rawEvents = raw && opts.events !== false;
const users = Number(opts.users);
if (!Number.isInteger(Math.log10(users))) throw new Error(`--users must be a power of ten, got ${opts.users}`);
// Realistic requests (genres, countries, devices), each sent with a unique request id and the next user of the pool.
const pool = decideRequests(2_048, 16).bodies.map((b) => {
  const r = fromBinary(DecideRequestSchema, Buffer.from(b, "base64"));
  r.placement!.forceNow = true;
  r.explain = false;
  return r;
});

interface Window {
  decisions: number;
  filled: number;
  errors: number;
  errorCodes: Record<string, number>;
  /** The first message seen for each code in the window: what a count alone cannot tell (where an error came from). */
  errorExamples: Record<string, string>;
  eventsAccepted: number;
  playback: number;
  latency: hdr.Histogram;
  /** Decides refused (RESOURCE_EXHAUSTED or UNAVAILABLE): time from the call to its refusal, µs. */
  refusals: hdr.Histogram;
  /** Decides that ran out of the client's deadline (other calls' timeouts count as errors only). */
  decideTimeouts: number;
}

const newWindow = (): Window => ({
  decisions: 0,
  filled: 0,
  errors: 0,
  errorCodes: {},
  errorExamples: {},
  eventsAccepted: 0,
  playback: 0,
  latency: createLatencyHistogram(),
  decideTimeouts: 0,
  refusals: createLatencyHistogram(),
});

interface Pending {
  event: AdEvent;
  campaignId: string;
  priceMicros: bigint;
}

/** What the ledger must hold in the end: unique impressions the gateway accepted (or had already), by campaign. */
const expected = new Map<string, { impressions: bigint; spendMicros: bigint }>();
const accepted = new Set<string>();
/**
 * Decisions sent by every load of this run (probe steps, warm-up, soak): numbers request ids and users, so that no
 * request id comes back (the gateway would answer it from its idempotency memory) and no user comes back within
 * the pool.
 */
let arrivals = 0;

class Load {
  window = newWindow();
  private sent = 0;
  private timer: NodeJS.Timeout | undefined;
  private pending: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly clients: readonly Client<typeof DecisionService>[],
    private readonly rate: number,
    private readonly withEvents: boolean,
    /** Ramp from a tenth of the rate to all of it over this long (JIT, caches and leases warm up first). */
    private readonly warmupMs = 0,
  ) {}

  start(): void {
    const started = performance.now();
    const perMs = this.rate / 1000;
    const w = this.warmupMs;
    // Arrivals due by time t: the integral of the rate, linear from 10% to 100% over the warm-up, then flat.
    const dueBy = (t: number) => (t < w ? perMs * (0.1 * t + (0.45 * t * t) / w) : perMs * (0.55 * w + (t - w)));
    // When arrival k is due once the rate is flat (latency counts from there, not from when a late tick sent it).
    const plannedAt = (k: number, now: number) => (k < perMs * 0.55 * w ? now : started + w + (k / perMs - 0.55 * w));
    this.timer = setInterval(() => {
      const now = performance.now();
      const due = dueBy(now - started);
      while (this.sent < due) {
        void this.decideOnce(Math.min(now, plannedAt(this.sent, now)), arrivals++);
        this.sent++;
      }
    }, 2);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 20));
    await this.flush();
  }

  private async decideOnce(plannedAt: number, n: number): Promise<void> {
    this.inFlight++;
    const client = this.clients[n % this.clients.length]!;
    const template = pool[n % pool.length]!;
    const listener = pooledValue(n, users);
    const request = {
      ...template,
      requestId: `soak-${n}`,
      user: { ...template.user!, userId: `soak-user-${listener}` },
      // Each listener in a session of their own: with the templates' 2,048 fixed sessions each heard an ad every
      // ~20 s at 100/s, their ad load grew all run long and the sold share fell (88% -> 80% in four minutes).
      context: { ...template.context!, sessionId: `soak-session-${listener}` },
    };
    let decideSentAt: number | undefined;
    try {
      if (this.withEvents && n % 4 === 0) await this.playback(client, request);
      decideSentAt = performance.now();
      const response = await client.decide(request, { timeoutMs: 2_000 });
      decideSentAt = undefined;
      this.window.latency.recordValue(Math.max(1, Math.round((performance.now() - plannedAt) * 1000)));
      this.window.decisions++;
      if (response.ads.length > 0) this.window.filled++;
      if (this.withEvents) this.queueEvents(response, n);
      if (this.pending.length >= 40) await this.flush();
    } catch (err) {
      this.countError(err);
      const code = ConnectError.from(err).code;
      if (decideSentAt !== undefined && code === Code.DeadlineExceeded) this.window.decideTimeouts++;
      if (decideSentAt !== undefined && (code === Code.ResourceExhausted || code === Code.Unavailable))
        this.window.refusals.recordValue(Math.max(1, Math.round((performance.now() - decideSentAt) * 1000)));
    } finally {
      this.inFlight--;
    }
  }

  /** The ads' events a player would send: an impression each, a complete for one decision in 7, a click in 31. */
  private queueEvents(response: DecideResponse, n: number): void {
    for (const ad of response.ads) {
      const event = (type: AdEventType) =>
        create(AdEventSchema, {
          eventId: `${response.decisionId}:${ad.creativeId}:${type}`,
          decisionId: response.decisionId,
          creativeId: ad.creativeId,
          // The ad's event token: events without a valid one are rejected and never stored.
          eventToken: ad.eventToken,
          type,
          occurredAt: timestampNow(),
        });
      const item = { campaignId: ad.campaignId, priceMicros: ad.priceMicros };
      this.pending.push({ event: event(AdEventType.IMPRESSION), ...item });
      if (n % 7 === 0) this.pending.push({ event: event(AdEventType.COMPLETE), ...item });
      if (n % 31 === 0) this.pending.push({ event: event(AdEventType.CLICK), ...item });
    }
  }

  /** --client raw: the events of a decision the load client saw sold, reported from here as decideOnce does. */
  async served(response: DecideResponse): Promise<void> {
    this.inFlight++;
    try {
      this.queueEvents(response, this.sent++);
      if (this.pending.length >= 40) await this.flush();
    } finally {
      this.inFlight--;
    }
  }

  /**
   * --client raw: the playback signal decideOnce sends before every fourth Decide, for that arrival's listener
   * (`ids`), paced by its own open loop here and not awaited by the Decide. Its failures count as the minute's errors.
   */
  async playbackFor(n: number, ids: { userId: string; sessionId: string }): Promise<void> {
    const template = pool[n % pool.length]!;
    try {
      await this.playback(this.clients[n % this.clients.length]!, {
        ...template,
        user: { ...template.user!, userId: ids.userId },
        context: { ...template.context!, sessionId: ids.sessionId },
      });
    } catch (err) {
      this.countError(err);
    }
  }

  private countError(err: unknown): void {
    this.window.errors++;
    const code = Code[ConnectError.from(err).code] ?? "unknown";
    this.window.errorCodes[code] = (this.window.errorCodes[code] ?? 0) + 1;
    this.window.errorExamples[code] ??= ConnectError.from(err).message.slice(0, 300);
  }

  private async playback(client: Client<typeof DecisionService>, request: DecideRequest): Promise<void> {
    const ctx = request.context!;
    await client.reportPlayback(
      {
        signals: [
          create(PlaybackSignalSchema, {
            sessionId: ctx.sessionId,
            userId: request.user!.userId,
            at: timestampNow(),
            kind: {
              case: "contentStart",
              value: { contentKind: ctx.contentKind, genre: ctx.genre, moodTags: ctx.moodTags, durationMs: 200_000 },
            },
          }),
        ],
      },
      { timeoutMs: 2_000 },
    );
    this.window.playback++;
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) {
      // One report in ten is sent twice: the second must come back as duplicates and change nothing.
      const times = Math.random() < 0.1 ? 2 : 1;
      for (let t = 0; t < times; t++) await this.report(batch);
    }
    // A report that got no answer may or may not be stored: it is sent again (event ids make that safe) until it
    // is answered, one earlier batch per flush while the load runs, all of them at the end (confirmAll).
    const again = this.unconfirmed.shift();
    if (again) await this.report(again);
  }

  private reports = 0;

  /** Reports that got no answer, to be sent again until answered. */
  private unconfirmed: Pending[][] = [];

  /** Sends every unanswered report again until each is answered (or `timeoutMs` passes); returns how many remain. */
  async confirmAll(timeoutMs = 120_000): Promise<number> {
    const until = Date.now() + timeoutMs;
    while (this.unconfirmed.length > 0 && Date.now() < until) {
      const before = this.unconfirmed.length;
      await this.report(this.unconfirmed.shift()!);
      if (this.unconfirmed.length >= before) await new Promise((r) => setTimeout(r, 500));
    }
    return this.unconfirmed.reduce((n, b) => n + b.length, 0);
  }

  private async report(batch: Pending[]): Promise<void> {
    try {
      const result = await this.clients[this.reports++ % this.clients.length]!.reportEvents(
        { events: batch.map((b) => b.event) },
        { timeoutMs: 5_000 },
      );
      this.window.eventsAccepted += result.accepted;
      result.results.forEach((r, i) => {
        const item = batch[i]!;
        const stored = r.status === EventResult_Status.ACCEPTED || r.status === EventResult_Status.DUPLICATE;
        if (!stored || item.event.type !== AdEventType.IMPRESSION || accepted.has(item.event.eventId)) return;
        accepted.add(item.event.eventId);
        const e = expected.get(item.campaignId) ?? { impressions: 0n, spendMicros: 0n };
        e.impressions++;
        e.spendMicros += item.priceMicros;
        expected.set(item.campaignId, e);
      });
    } catch (err) {
      this.countError(err);
      this.unconfirmed.push(batch);
    }
  }
}

const percentile = (h: hdr.Histogram, p: number) => Math.round(h.getValueAtPercentile(p) / 10) / 100;

async function probeCapacity(clients: readonly Client<typeof DecisionService>[]): Promise<number> {
  const seconds = Number(opts.probeSeconds);
  // A cold mesh (JIT, the agents' caches, Budget's first leases) failed the first step's p99 bound on a quiet
  // machine (159 ms at 10/s), so "half the capacity" was half of 10/s: the probe starts warm.
  const warmupSeconds = Number(opts.probeWarmupSeconds);
  if (warmupSeconds > 0) {
    const warm = new Load(clients, 30, false, warmupSeconds * 500);
    warm.start();
    await new Promise((r) => setTimeout(r, warmupSeconds * 1000));
    await warm.stop();
    const w = warm.window;
    process.stderr.write(
      `probe warm-up ${warmupSeconds} s (up to 30/s): ${w.decisions} answered, p99 ${percentile(w.latency, 99)} ms, ${w.errors} errors\n`,
    );
  }
  let best = 0;
  for (const rate of PROBE_RATES) {
    const load = new Load(clients, rate, false);
    load.start();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    await load.stop();
    const w = load.window;
    const answered = w.decisions / seconds;
    const p99 = percentile(w.latency, 99);
    process.stderr.write(`probe ${rate}/s: ${Math.round(answered)}/s answered, p99 ${p99} ms, ${w.errors} errors\n`);
    // Sustained: nearly everything answered, no errors, p99 under the 100 ms an ad break tolerates (by default).
    if (answered >= rate * 0.95 && w.errors === 0 && p99 < Number(opts.probeP99Ms)) best = rate;
    else break;
  }
  return Math.max(best, 10);
}

interface MinuteRow {
  minute: number;
  rate: number;
  p50: number;
  p99: number;
  errors: number;
  /** Errors by gRPC code, and the first message of each (where the errors came from). */
  errorCodes: Record<string, number>;
  errorExamples: Record<string, string>;
  filled: number;
  /** Share of answered decisions with at least one ad, %: flat when the workload is the same all run long. */
  soldPercent: number;
  events: number;
  loadavg: number;
  /** Peak resident memory of each process in the minute, MiB. */
  rss: Record<string, number>;
  cpu: Record<string, number>;
  /** Decides refused at once (RESOURCE_EXHAUSTED or UNAVAILABLE) and the p50/p99 of the time to the refusal, ms. */
  refused: number;
  refusedP50: number;
  refusedP99: number;
  /** Decides that ran out of the client's 2 s deadline. */
  timeouts: number;
  /** --client raw: how late the load client sent against its schedule, p99 ms (whether it kept up). */
  clientSendLagP99?: number;
  /** Restarts seen in the minute (a supervised process with a new pid; its new process is measured from then on). */
  restarts: number;
  /**
   * Each Chorus process's own account at the end of the minute (MiB): V8 heap used, external (buffers, WASM memory
   * of the main thread) and RSS. Heap flat and RSS rising is the allocator or native memory, not a JavaScript leak.
   */
  memory: Record<
    string,
    {
      heapUsedMb: number;
      /** V8 heap in use after a full collection: live objects only. */
      liveHeapMb: number | undefined;
      heapTotalMb: number;
      externalMb: number;
      arrayBuffersMb: number;
      rssMb: number;
    }
  >;
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/**
 * Asks every Chorus child for its memoryUsage(), and with --live-heap its live heap after a full collection
 * (nats-server and this client are measured from /proc only): heap used alone counts garbage not yet collected.
 */
async function memoryBreakdown(
  processes: {
    name: string;
    memoryUsage?: (timeoutMs?: number, afterGc?: boolean) => Promise<MemoryReport | undefined>;
  }[],
) {
  const answers = await Promise.all(
    processes.map(
      async (p) =>
        [p.name, p.memoryUsage ? await p.memoryUsage(10_000, opts.liveHeap === true) : process.memoryUsage()] as const,
    ),
  );
  return Object.fromEntries(
    answers.flatMap(([name, u]) =>
      u
        ? [
            [
              name,
              {
                heapUsedMb: mib(u.heapUsed),
                liveHeapMb:
                  (u as MemoryReport).liveHeapUsed === undefined ? undefined : mib((u as MemoryReport).liveHeapUsed!),
                heapTotalMb: mib(u.heapTotal),
                externalMb: mib(u.external),
                arrayBuffersMb: mib(u.arrayBuffers),
                rssMb: mib(u.rss),
              },
            ] as const,
          ]
        : [],
    ),
  );
}

/** A connect-node window's Decide side, in the shape the raw client's windows also take. */
const decideOf = (w: Window): DecideMinute => ({
  answered: w.decisions,
  filled: w.filled,
  errors: w.errors,
  errorCodes: w.errorCodes,
  errorExamples: w.errorExamples,
  latency: w.latency,
  refusals: w.refusals,
  timeouts: w.decideTimeouts,
});

async function main(): Promise<void> {
  process.env.LOG_LEVEL ??= "warn";
  // The gateway sheds a backlog (its default; GATEWAY_MAX_LOOP_LAG_MS=0 in the environment turns it off to compare).
  process.env.GATEWAY_MAX_LOOP_LAG_MS ??= String(DEFAULT_MAX_LOOP_LAG_MS);
  const mesh = await startMesh({
    gatewayPort: Number(opts.port),
    silent: true,
    demo: true,
    demoCatalog: { budgetScale: Number(opts.budgetScale) },
    readyTimeoutMs: 300_000,
  });
  // The mesh's bootstrapped decide key: every call but health needs one (gateway/auth).
  // One transport per connection (a connect-node transport keeps one HTTP/2 session): calls are spread over them.
  const clients = Array.from({ length: Number(opts.connections) }, () =>
    createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: mesh.gatewayUrl, interceptors: [withApiKey(mesh.credentials.decideKey)] }),
    ),
  );
  // --client raw: the Decide load from processes of their own, their CPU on a line of its own (load-client).
  let loadClient: LoadClient | undefined;
  // mesh.processes follow restarted children (their pid is read at every sample): a restart is reported as an
  // event and the new process's memory and CPU are measured from then on.
  // The load client alone: the mesh's processes are its children, measured on their own lines.
  const processes: {
    name: string;
    pid: number;
    descendants?: boolean;
    memoryUsage?: (timeoutMs?: number, afterGc?: boolean) => Promise<MemoryReport | undefined>;
  }[] = [...mesh.processes, { name: "soak-client", pid: process.pid, descendants: false }];
  const sampler = new ProcessSampler(1_000);
  const restartEvents: (RestartEvent & { minute: number })[] = [];
  let minute = 0;
  sampler.onRestart = (e) => {
    restartEvents.push({ ...e, minute });
    process.stderr.write(`restart: ${e.name} pid ${e.oldPid} -> ${e.newPid} in minute ${minute}\n`);
  };
  const rows: MinuteRow[] = [];
  // Every answer of the first minutes in one histogram: the p99 later minutes are judged against (the p99 of the
  // settle period as a whole, not its worst minute, which a warm-up can make as bad as it likes).
  const earlyLatency = createLatencyHistogram();
  const recordMinute = async (m: number, d: DecideMinute, usage: ProcessUsage[], events: number) => {
    if (m <= Number(opts.settleMinutes)) earlyLatency.add(d.latency);
    // Load clients are measured from /proc only (asking them would report this process's memory).
    const memory = await memoryBreakdown(
      processes.filter((p) => p.name !== "nats-server" && p.name !== LOAD_CLIENT_NAME),
    );
    const row: MinuteRow = {
      minute: m,
      rate: Math.round(d.answered / 60),
      p50: percentile(d.latency, 50),
      p99: percentile(d.latency, 99),
      errors: d.errors,
      errorCodes: d.errorCodes,
      errorExamples: d.errorExamples,
      filled: d.filled,
      soldPercent: d.answered ? Math.round((d.filled / d.answered) * 1000) / 10 : 0,
      events,
      loadavg: Math.round(loadavg()[0]! * 10) / 10,
      rss: Object.fromEntries(usage.map((u) => [u.name, u.peakRssMb])),
      cpu: Object.fromEntries(usage.map((u) => [u.name, u.cpuPercent])),
      restarts: usage.reduce((a, u) => a + (u.restarts ?? 0), 0),
      refused: d.refusals.totalCount,
      refusedP50: percentile(d.refusals, 50),
      refusedP99: percentile(d.refusals, 99),
      timeouts: d.timeouts,
      ...(d.clientSendLagP99Ms === undefined ? {} : { clientSendLagP99: d.clientSendLagP99Ms }),
      memory,
    };
    rows.push(row);
    const clientCpu = raw
      ? ` client CPU ${row.cpu[LOAD_CLIENT_NAME]}% (send lag p99 ${row.clientSendLagP99} ms), soak process ${row.cpu["soak-client"]}%`
      : "";
    process.stderr.write(
      `minute ${m}: ${row.rate}/s sold ${row.soldPercent}% events ${row.events} p50 ${row.p50} ms p99 ${row.p99} ms errors ${row.errors} (refused ${row.refused} in p50 ${row.refusedP50} / p99 ${row.refusedP99} ms, timeouts ${row.timeouts}) restarts ${row.restarts}${d.errors ? ` ${JSON.stringify(d.errorCodes)} first of each: ${JSON.stringify(d.errorExamples)}` : ""}${clientCpu} load ${row.loadavg} rss ${JSON.stringify(row.rss)}\n`,
    );
    process.stderr.write(
      `  live heap / heap used / heap total / external / rss MiB: ${Object.entries(memory)
        .map(([n, m]) => `${n} ${m.liveHeapMb ?? "-"}/${m.heapUsedMb}/${m.heapTotalMb}/${m.externalMb}/${m.rssMb}`)
        .join(", ")}\n`,
    );
  };
  let capacity: number | undefined;
  try {
    await new Promise((r) => setTimeout(r, 3_000)); // agents' first signals and leases
    const processCount = Number(opts.clientProcesses);
    const target = raw
      ? rawDecideTarget(pool, users, {
          url: mesh.gatewayUrl,
          apiKey: mesh.credentials.decideKey,
          // The connections spread over the processes, as many in all as connect-node would open.
          sessions: Math.max(1, Math.ceil(Number(opts.connections) / processCount)),
          timeoutMs: 2_000,
          returnSold: rawEvents,
        })
      : undefined;
    if (target) {
      loadClient = await LoadClient.start(processCount);
      for (const pid of loadClient.pids) processes.push({ name: LOAD_CLIENT_NAME, pid, descendants: false });
    }
    const log = (line: string) => process.stderr.write(`${line}\n`);
    capacity = opts.rate
      ? undefined
      : loadClient && target
        ? await probeCapacityRaw(
            loadClient,
            target,
            {
              seconds: Number(opts.probeSeconds),
              p99Ms: Number(opts.probeP99Ms),
              warmupSeconds: Number(opts.probeWarmupSeconds),
            },
            log,
          )
        : await probeCapacity(clients);
    const factor = opts.overload ? Number(opts.overload) : 0.5;
    const rate = opts.rate ? Number(opts.rate) : Math.max(5, Math.floor(capacity! * factor));
    process.stderr.write(
      `soak: ${rate} decisions/s for ${minutes} min (capacity ${capacity ?? "not measured"}), Decide from ${raw ? `${processCount} raw load client process(es), ${rawEvents ? "playback and events from connect-node here" : "no events"}` : "connect-node in this process"}\n`,
    );
    let unconfirmed = 0;
    if (loadClient && target) {
      // Playback and events over connect-node from here (a Load that sends no Decide of its own).
      const side = rawEvents ? new Load(clients, rate, true) : undefined;
      const rampMs = Number(opts.warmupSeconds) * 1000;
      let playbacks = 0;
      const playback = side
        ? runOpenLoop({
            rate: rate / 4,
            durationMs: minutes * 60_000,
            rampMs,
            send: (done) => {
              const n = 4 * playbacks++;
              void side.playbackFor(n, rawListener(n, users)).then(() => done(undefined, -1));
            },
          })
        : undefined;
      // One step for the whole run, reported minute by minute: no pause between minutes for a backlog to drain.
      let recorded = Promise.resolve();
      minute = 1;
      sampler.start(processes);
      const whole = await loadClient.run(target, rate, minutes * 60_000, undefined, {
        rampMs,
        windowMs: 60_000,
        onSold: (messages) => {
          for (const m of messages) void side?.served(fromBinary(DecideResponseSchema, m));
        },
        onWindow: (w, i) => {
          // The calls settled after the last minute (the tail of the schedule and its timeouts): reported, not a row.
          if (i >= minutes) {
            log(
              `after minute ${minutes}: ${w.completed} answered, ${w.refusals.totalCount} refused, ${w.timeouts} timed out (not in the rows)`,
            );
            return;
          }
          const usage = mergeLoadClients(sampler.stop());
          if (i + 1 < minutes) sampler.start(processes);
          minute = i + 2;
          const d = decideMinute(w);
          // The minute's playback and event reports: their failures count as errors, as in the connect-node load.
          const e = side?.window ?? newWindow();
          if (side) side.window = newWindow();
          d.errors += e.errors;
          for (const [code, n] of Object.entries(e.errorCodes)) {
            d.errorCodes[code] = (d.errorCodes[code] ?? 0) + n;
            d.errorExamples[code] ??= e.errorExamples[code]!;
          }
          recorded = recorded.then(() => recordMinute(i + 1, d, usage, e.eventsAccepted));
        },
      });
      await recorded;
      await playback;
      if (side) {
        await side.stop();
        unconfirmed = await side.confirmAll();
        log(`reports sent again until answered; events still unanswered: ${unconfirmed}`);
      }
      log(
        `raw client, whole run: ${whole.issued} sent, ${whole.completed} answered, ${JSON.stringify(whole.errorCounts)}`,
      );
    } else {
      const load = new Load(clients, rate, true, Number(opts.warmupSeconds) * 1000);
      load.start();
      for (let m = 1; m <= minutes; m++) {
        minute = m;
        sampler.start(processes);
        await new Promise((r) => setTimeout(r, 60_000));
        const usage = sampler.stop();
        const w = load.window;
        load.window = newWindow();
        await recordMinute(m, decideOf(w), usage, w.eventsAccepted);
      }
      await load.stop();
      unconfirmed = await load.confirmAll();
      process.stderr.write(`reports sent again until answered; events still unanswered: ${unconfirmed}\n`);
    }
    // The ledger catches up with the events stream, then must equal what was accepted.
    const nc = await mesh.connect("soak-check");
    let ledger = await queryLedger(nc);
    const want = [...expected.values()].reduce((a, e) => a + e.impressions, 0n);
    for (let i = 0; i < 300; i++) {
      const got = ledger.campaigns.reduce((a, c) => a + c.impressions, 0n);
      if (got >= want) break;
      await new Promise((r) => setTimeout(r, 200));
      ledger = await queryLedger(nc);
    }
    await nc.close();
    const mismatches = [...new Set([...expected.keys(), ...ledger.campaigns.map((c) => c.campaignId)])].filter((id) => {
      const e = expected.get(id) ?? { impressions: 0n, spendMicros: 0n };
      const c = ledger.campaigns.find((x) => x.campaignId === id);
      return (c?.impressions ?? 0n) !== e.impressions || (c?.spendMicros ?? 0n) !== e.spendMicros;
    });
    const supervisorRestarts = Object.fromEntries(mesh.children.map((c) => [c.name, c.restarts]));
    report(rows, percentile(earlyLatency, 99), rate, capacity, restartEvents, supervisorRestarts, {
      expectedImpressions: want,
      ledgerImpressions: ledger.campaigns.reduce((a, c) => a + c.impressions, 0n),
      expectedSpendMicros: [...expected.values()].reduce((a, e) => a + e.spendMicros, 0n),
      ledgerSpendMicros: ledger.campaigns.reduce((a, c) => a + c.spendMicros, 0n),
      mismatchedCampaigns: mismatches,
      unansweredEvents: unconfirmed,
    });
  } finally {
    await loadClient?.close();
    await mesh.stop();
  }
}

function report(
  rows: MinuteRow[],
  /** The p99 of every answer in the settle minutes together. */
  p99Settle: number,
  rate: number,
  capacity: number | undefined,
  restartEvents: (RestartEvent & { minute: number })[],
  /** The supervisors' own restart counts, a cross-check of the events the sampler saw. */
  supervisorRestarts: Record<string, number>,
  ledger: {
    expectedImpressions: bigint;
    ledgerImpressions: bigint;
    expectedSpendMicros: bigint;
    ledgerSpendMicros: bigint;
    /** Events whose report never got an answer (sent again until the end): exactness needs none. */
    unansweredEvents: number;
    mismatchedCampaigns: string[];
  },
): void {
  const names = Object.keys(rows[0]?.rss ?? {});
  const columns = [
    { header: "min", value: (r: MinuteRow) => r.minute },
    { header: "rate/s", value: (r: MinuteRow) => r.rate },
    { header: "p50 ms", value: (r: MinuteRow) => r.p50 },
    { header: "p99 ms", value: (r: MinuteRow) => r.p99 },
    { header: "errors", value: (r: MinuteRow) => r.errors },
    { header: "restarts", value: (r: MinuteRow) => r.restarts },
    { header: "refused", value: (r: MinuteRow) => r.refused },
    { header: "refusal p99 ms", value: (r: MinuteRow) => r.refusedP99 },
    { header: "timeouts", value: (r: MinuteRow) => r.timeouts },
    ...(raw ? [{ header: "client lag p99 ms", value: (r: MinuteRow) => r.clientSendLagP99 ?? "-" }] : []),
    { header: "sold %", value: (r: MinuteRow) => r.soldPercent },
    { header: "events", value: (r: MinuteRow) => r.events },
    { header: "load", value: (r: MinuteRow) => r.loadavg },
    ...names.map((n) => ({ header: `${n} MB`, value: (r: MinuteRow) => r.rss[n] ?? "-" })),
    ...names.map((n) => ({ header: `${n} CPU%`, value: (r: MinuteRow) => r.cpu[n] ?? "-" })),
  ];
  console.log(
    `\nSoak: ${rate} decisions/s (capacity ${capacity ?? "not measured"}), ${rows.length} minutes, Decide from ${opts.client}\n`,
  );
  console.log(formatTable(columns, rows));
  const settle = Number(opts.settleMinutes);
  const early = rows.filter((r) => r.minute <= settle);
  const late = rows.filter((r) => r.minute > settle);
  const totalRss = (r: MinuteRow) => names.reduce((a, n) => a + (r.rss[n] ?? 0), 0);
  const growth = (n: string) => {
    const base = rows.find((r) => r.minute === settle)?.rss[n];
    const last = rows.at(-1)?.rss[n];
    return base && last ? Math.round((last / base - 1) * 1000) / 10 : 0;
  };
  // Memory at the start (minute 1), middle and end, and its slope after the warm-up (least squares over minutes
  // 6..end, MiB per minute): bounded memory shows a slope near zero, a leak a steady positive one.
  const at = (m: number) => rows.find((r) => r.minute === m) ?? rows.at(-1);
  const slope = (n: string) => {
    const pts = late.map((r) => [r.minute, r.rss[n] ?? 0] as const);
    if (pts.length < 2) return 0;
    const mx = pts.reduce((a, [x]) => a + x, 0) / pts.length;
    const my = pts.reduce((a, [, y]) => a + y, 0) / pts.length;
    const sxx = pts.reduce((a, [x]) => a + (x - mx) ** 2, 0);
    return Math.round((pts.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx) * 100) / 100;
  };
  const memory = Object.fromEntries(
    names.map((n) => [
      n,
      {
        startMb: at(1)?.rss[n],
        middleMb: at(Math.ceil(rows.length / 2))?.rss[n],
        endMb: rows.at(-1)?.rss[n],
        slopeMbPerMinute: slope(n),
      },
    ]),
  );
  console.log("\nmemory (MiB) start / middle / end, slope after minute 5 (MiB/min):");
  for (const [n, m] of Object.entries(memory)) {
    // The process's own account: V8 heap used and total, external, at the settle minute and at the end.
    const own = (r: MinuteRow | undefined) => {
      const x = r?.memory[n];
      return x
        ? `live heap ${x.liveHeapMb ?? "-"}, heap ${x.heapUsedMb}/${x.heapTotalMb}, external ${x.externalMb}`
        : "-";
    };
    console.log(
      `  ${n}: ${m.startMb} / ${m.middleMb} / ${m.endMb}, ${m.slopeMbPerMinute}; minute ${settle}: ${own(at(settle))}; end: ${own(rows.at(-1))}`,
    );
  }
  console.log(
    `restarts: ${restartEvents.length}${restartEvents.map((e) => ` [minute ${e.minute}: ${e.name} ${e.oldPid} -> ${e.newPid}]`).join("")}; supervisors: ${JSON.stringify(supervisorRestarts)}`,
  );
  const p99Early = early.length ? p99Settle : 0;
  // The worst later minute: each minute is held to the bound, as the per-minute table shows them.
  const p99Late = Math.max(...late.map((r) => r.p99), 0);
  const verdicts = {
    memoryGrowthPercent: Object.fromEntries(names.map((n) => [n, growth(n)])),
    // Unjudged (null) when the run ends by the settle minute: no growth can be seen after it.
    // The mesh's processes; the load client is reported, not judged (its memory moves with its requests in flight).
    memoryUnder10Percent:
      late.length === 0
        ? null
        : names.filter((n) => n !== "soak-client" && n !== LOAD_CLIENT_NAME).every((n) => growth(n) < 10),
    settleMinute: settle,
    // The workload's own stability: the sold share's lowest and highest minute (a shrinking share once meant the
    // few users' frequency caps had filled, and a lighter mesh whose memory and p99 say little).
    soldPercentMinMax: rows.length
      ? [Math.min(...rows.map((r) => r.soldPercent)), Math.max(...rows.map((r) => r.soldPercent))]
      : [],
    // The p99 of every answer in the settle minutes together; p99After is the worst later minute.
    p99FirstFiveMinutes: p99Early,
    p99After: p99Late,
    p99Within1_5x: late.length === 0 || p99Late <= 1.5 * p99Early,
    errors: rows.reduce((a, r) => a + r.errors, 0),
    restarts: restartEvents.length,
    // Vacuous when nothing was accepted (a run that only failed proves nothing); not judged (null) with --client
    // raw --no-events, which sends no events.
    ledgerExact:
      raw && !rawEvents
        ? null
        : ledger.expectedImpressions > 0n &&
          ledger.unansweredEvents === 0 &&
          ledger.mismatchedCampaigns.length === 0 &&
          ledger.expectedImpressions === ledger.ledgerImpressions,
    totalRssLastMb: rows.length ? Math.round(totalRss(rows.at(-1)!)) : 0,
    // --overload: answers per second over the run against the probed capacity (the issue asks >= 0.8), and how
    // the rest fared: refused at once (and how fast) or timed out.
    ...(opts.overload && capacity
      ? (() => {
          const goodput = rows.reduce((a, r) => a + r.rate, 0) / Math.max(1, rows.length);
          const refused = rows.reduce((a, r) => a + r.refused, 0);
          const offered = rate * 60 * rows.length;
          return {
            overloadFactor: Number(opts.overload),
            goodputPerSecond: Math.round(goodput * 10) / 10,
            goodputPerCapacity: Math.round((goodput / capacity) * 100) / 100,
            refusedShare: Math.round((refused / offered) * 1000) / 1000,
            refusalP50MaxMs: Math.max(0, ...rows.map((r) => r.refusedP50)),
            refusalP99MaxMs: Math.max(0, ...rows.map((r) => r.refusedP99)),
            timeoutShare: Math.round((rows.reduce((a, r) => a + r.timeouts, 0) / offered) * 1000) / 1000,
          };
        })()
      : {}),
  };
  console.log(
    `\nledger: ${ledger.ledgerImpressions} impressions / ${ledger.ledgerSpendMicros} micros; accepted unique: ${ledger.expectedImpressions} / ${ledger.expectedSpendMicros}; campaigns that differ: ${ledger.mismatchedCampaigns.length}`,
  );
  // Who sent the load and what it cost: the load client processes (--client raw) and this process, apart from the
  // mesh, % of a core averaged over the minutes.
  const meanCpu = (n: string) =>
    rows.length ? Math.round((rows.reduce((a, r) => a + (r.cpu[n] ?? 0), 0) / rows.length) * 10) / 10 : 0;
  const client = {
    kind: opts.client,
    ...(raw
      ? {
          processes: Number(opts.clientProcesses),
          loadClientCpuPercent: meanCpu(LOAD_CLIENT_NAME),
          playbackAndEventsFromSoakProcess: rawEvents,
        }
      : {}),
    soakProcessCpuPercent: meanCpu("soak-client"),
  };
  console.log(`client: ${JSON.stringify(client)}`);
  console.log(JSON.stringify(verdicts, null, 2));
  const md = [
    `| ${columns.map((c) => c.header).join(" | ")} |`,
    `| ${columns.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${columns.map((c) => String(c.value(r))).join(" | ")} |`),
  ].join("\n");
  const path = writeJson(opts.json, {
    benchmark: "soak",
    at: new Date().toISOString(),
    node: process.version,
    rate,
    capacity,
    client,
    rows,
    memory,
    restartEvents,
    supervisorRestarts,
    ledger: Object.fromEntries(Object.entries(ledger).map(([k, v]) => [k, typeof v === "bigint" ? String(v) : v])),
    verdicts,
  });
  // The table may go elsewhere than the JSON (whose writer makes its own folder): a missing folder lost a 30-minute run's table.
  mkdirSync(dirname(opts.markdown), { recursive: true });
  writeFileSync(opts.markdown, `${md}\n`);
  console.log(`results: ${path}, table: ${opts.markdown}`);
}

await main();
