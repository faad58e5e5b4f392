import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { type Client, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { withApiKey } from "../gateway/auth/client-key.ts";
import { PacingMode } from "../gen/chorus/v1/campaign_pb.ts";
import {
  type AdEvent,
  AdEventSchema,
  AdEventType,
  DecisionService,
  EventRejection,
  type EventResult,
  EventResult_Status,
} from "../gen/chorus/v1/decision_pb.ts";
import { LeaseGrantSchema } from "../gen/chorus/v1/ledger_pb.ts";
import { queryLedger } from "../ledger/ledger.ts";
import { ensureLedgerStreams } from "../ledger/ledger-streams.ts";
import { rebuildLedger } from "../ledger/rebuild.ts";
import { CatalogStore, openCatalogBucket } from "../lib/catalog/catalog-store.ts";
import { demoCatalog, loadDemoCatalog } from "../lib/demo/demo-catalog.ts";
import { connectNats, type NatsConnection } from "../lib/nats/connect.ts";
import { currentLeader, openLeaderBucket } from "../lib/nats/leader-election.ts";
import { NatsCluster } from "../lib/nats/nats-cluster.ts";
import { freePort } from "../lib/nats/nats-server-process.ts";
import { type RunningChild, startChild } from "../lib/process/launcher.ts";
import { createSeededRandom } from "../lib/random/seeded-random.ts";
import { streams } from "../lib/subjects.ts";
import { bootstrapCredentials } from "./bootstrap-credentials.ts";
import { DemoTraffic } from "./demo-traffic.ts";

export type Victim = "nats" | "nats-stream-leader" | "budget-leader" | "ledger" | "gateway" | "agent-host";

export interface ClusterFaultOptions {
  /** How long load and kills run. */
  durationMs: number;
  /** Decide calls per second (open loop). */
  rate: number;
  /** One kill this often (the first after one interval); each victim is started again after `restartDelayMs`. */
  killEveryMs: number;
  restartDelayMs?: number;
  seed?: number;
  onProgress?: (line: string) => void;
}

export interface KillRecord {
  atS: number;
  victim: Victim;
  detail: string;
  /** Seconds from the kill until the role is served again (see recoveredBy). */
  recoveryS: number | undefined;
  recoveredBy: string;
  /** Decide calls (after the client's one retry) that failed in the 10 s after this kill. */
  decideFailuresAfter: number;
}

export interface CampaignCheck {
  campaignId: string;
  budgetMicros: bigint;
  expectedMicros: bigint;
  ledgerMicros: bigint;
  rebuiltMicros: bigint;
  overspendMicros: bigint;
  /** One lease per gateway: the bound the overspend must stay within. */
  boundMicros: bigint;
}

export interface ClusterFaultFigures {
  seconds: number;
  decides: number;
  decideSuccess: number;
  decideFirstTryFailures: number;
  decideSuccessRate: number;
  decideErrors: Record<string, number>;
  filled: number;
  eventsSent: number;
  eventsAccepted: number;
  eventsDuplicate: number;
  eventsRejected: number;
  eventsUnconfirmed: number;
  uniqueImpressions: number;
  ledgerImpressions: bigint;
  expectedSpendMicros: bigint;
  ledgerSpendMicros: bigint;
  rebuiltSpendMicros: bigint;
  exact: boolean;
  campaigns: CampaignCheck[];
  largestOverspendMicros: bigint;
  largestOverspendBoundMicros: bigint;
  withinBounds: boolean;
  staleLeaseEpochsSeen: number;
  kills: KillRecord[];
  restartsAfterExit: Record<string, number>;
}

const GATEWAYS = 2;
const LEASE_PPM = 50_000; // 5% of a campaign's budget per lease (at least one ad)
const BUDGET_MICROS = 400_000n;

interface Proc {
  name: string;
  entry: string;
  env: Record<string, string>;
  child?: RunningChild;
  /** Set while the runner restarts it on purpose; an exit otherwise is a crash, restarted too. */
  killing?: boolean;
}

/**
 * The chaos run (`npm run fault:cluster`): a three-node NATS cluster (replicas 3), two gateways, two Budget agents,
 * two ledgers and two agent hosts under mixed Decide + events load, with kill -9 at random (a NATS server — the
 * events stream's leader among them —, the Budget leader, the ledger leader, a gateway, an agent host), each
 * started again as a supervisor would. At the end: events sent, accepted and unique; the ledger and a rebuild from
 * the stream against the unique accepted impressions, exactly; overspend per campaign against one lease per gateway;
 * Decide's success rate with a client that retries once on the other gateway; the recovery time after each kill.
 */
export async function runClusterFault(options: ClusterFaultOptions): Promise<ClusterFaultFigures> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => undefined);
  const rnd = createSeededRandom(options.seed ?? 17);
  const dir = mkdtempSync(join(tmpdir(), "chorus-cluster-fault-"));
  const cluster = await NatsCluster.start({ size: 3, storeDir: join(dir, "nats") });
  progress(`cluster up: ${cluster.url}`);
  const admin = await connectNats({ servers: cluster.url, name: "chorus-chaos-runner" });
  const procs = new Map<string, Proc>();
  const restartsAfterExit: Record<string, number> = {};
  let finished = false;
  const stopAll = async () => {
    finished = true;
    for (const p of procs.values()) p.child?.process.kill("SIGKILL");
    await admin.close().catch(() => undefined);
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const base = {
      NATS_URL: cluster.url,
      CHORUS_REPLICAS: "3",
      LOG_LEVEL: "error",
      BUDGET_LEASE_TTL_MS: "2000",
      BUDGET_RECLAIM_GRACE_MS: "1000",
      BUDGET_MAX_LEASE_PPM: String(LEASE_PPM),
      CHORUS_LEADER_TTL_MS: "2000",
    };
    const catalog = await seedCatalog(admin);
    const credentials = await bootstrapCredentials(cluster.url);
    await ensureLedgerStreams(await jetstreamManager(admin));
    const gatewayPorts = await Promise.all(Array.from({ length: GATEWAYS }, () => freePort()));
    const add = (name: string, entry: string, env: Record<string, string> = {}) =>
      procs.set(name, { name, entry, env: { ...base, ...env } });
    add("ledger-1", "ledger/ledger-main");
    add("ledger-2", "ledger/ledger-main");
    add("budget-1", "agents/budget/budget-main");
    add("budget-2", "agents/budget/budget-main");
    add("agents-1", "agents/host", { AGENTS: "intent,relevance,timing" });
    add("agents-2", "agents/host", { AGENTS: "bidding,creative,orchestrator" });
    gatewayPorts.forEach((port, i) => {
      add(`gateway-${i + 1}`, "gateway/main", {
        GATEWAY_ID: `gw-${i + 1}`,
        EVENT_TOKEN_KEYS: credentials.eventTokenKeys,
        GATEWAY_PORT: String(port),
        CHORUS_SPOOL_DIR: join(dir, "spool"),
      });
    });

    const launch = async (p: Proc): Promise<RunningChild> => {
      for (;;) {
        try {
          const child = await startChild(
            { name: p.name, entry: p.entry, env: p.env, readyTimeoutMs: 90_000 },
            {
              silent: true,
            },
          );
          p.child = child;
          child.process.once("exit", (code, signal) => {
            if (finished || p.killing || p.child !== child) return;
            restartsAfterExit[p.name] = (restartsAfterExit[p.name] ?? 0) + 1;
            progress(`${p.name} exited by itself (${code ?? signal}); starting it again`);
            setTimeout(() => !finished && void launch(p).catch(() => undefined), 500);
          });
          return child;
        } catch (err) {
          if (finished) throw err;
          restartsAfterExit[p.name] = (restartsAfterExit[p.name] ?? 0) + 1;
          progress(`${p.name} did not start (${(err as Error).message.split("\n")[0]}); again`);
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    };
    // Order as a deployment would: the money side first, then agents, then the gateways.
    await Promise.all(["ledger-1", "ledger-2", "budget-1", "budget-2"].map((n) => launch(procs.get(n)!)));
    await Promise.all(["agents-1", "agents-2"].map((n) => launch(procs.get(n)!)));
    await Promise.all(gatewayPorts.map((_, i) => launch(procs.get(`gateway-${i + 1}`)!)));
    progress(
      `mesh up in ${((Date.now() - started) / 1000).toFixed(1)} s; load ${options.rate}/s for ${options.durationMs / 1000} s`,
    );

    const leaders = await openLeaderBucket(jetstream(admin), 2_000);
    const grants = await watchLeaseLog(admin);
    const load = new ChaosLoad(
      gatewayPorts.map((port) => `http://127.0.0.1:${port}`),
      credentials.decideKey,
      rnd,
    );
    const loadStarted = Date.now();
    load.start(options.rate);

    const kills: KillRecord[] = [];
    const victims: Victim[] = ["nats-stream-leader", "budget-leader", "ledger", "gateway", "agent-host"];
    const order = shuffle([...victims], rnd);
    const restartDelay = options.restartDelayMs ?? 1_000;
    const recoveries: Promise<void>[] = [];
    for (let k = 0; ; k++) {
      const due = loadStarted + (k + 1) * options.killEveryMs;
      if (due > loadStarted + options.durationMs - options.killEveryMs / 2) break;
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      // Every kind once in a random order, then random kinds (a NATS server: any, sometimes the stream leader).
      const victim =
        k < order.length ? order[k]! : (pick([...victims, "nats"] as Victim[], rnd) satisfies Victim as Victim);
      const at = Date.now();
      const record: KillRecord = {
        atS: (at - loadStarted) / 1000,
        victim,
        detail: "",
        recoveryS: undefined,
        recoveredBy: "",
        decideFailuresAfter: 0,
      };
      kills.push(record);
      const recovered = (by: string) => {
        record.recoveryS = (Date.now() - at) / 1000;
        record.recoveredBy = by;
      };
      const restart = (p: Proc) =>
        new Promise<RunningChild>((resolve, reject) =>
          setTimeout(() => {
            p.killing = false;
            launch(p).then(resolve, reject);
          }, restartDelay),
        );
      const killProc = (p: Proc) => {
        p.killing = true;
        p.child?.process.kill("SIGKILL");
      };
      if (victim === "nats" || victim === "nats-stream-leader") {
        const leader = (
          await jetstreamManager(admin)
            .then((m) => m.streams.info(streams.events))
            .catch(() => undefined)
        )?.cluster?.leader;
        const index =
          victim === "nats-stream-leader" && leader
            ? cluster.nodes.findIndex((n) => n.name === leader)
            : Math.floor(rnd() * cluster.nodes.length);
        const node = cluster.nodes[Math.max(0, index)]!;
        record.detail = `${node.name}${node.name === leader ? " (events stream leader)" : ""}`;
        await cluster.kill(Math.max(0, index));
        recoveries.push(
          (async () => {
            await new Promise((r) => setTimeout(r, 2 * restartDelay));
            await cluster.restart(Math.max(0, index));
            await untilTrue(() => streamsWhole(admin), 120_000);
            recovered("server back, every stream's 3 replicas current");
          })().catch((err) => progress(`nats recovery not seen: ${(err as Error).message}`)),
        );
      } else if (victim === "budget-leader") {
        const leader = await currentLeader(leaders, "budget").catch(() => undefined);
        const p = [...procs.values()].find((q) => q.name.startsWith("budget") && q.child?.pid === leader?.pid);
        record.detail = p ? `${p.name} (epoch ${leader?.revision})` : "no leader found";
        const epochBefore = grants.maxEpoch;
        if (p) killProc(p);
        recoveries.push(
          (async () => {
            await untilTrue(async () => grants.maxEpoch > epochBefore, 120_000);
            recovered("first lease granted by the new leader");
            if (p) await restart(p);
          })().catch((err) => progress(`budget recovery not seen: ${(err as Error).message}`)),
        );
      } else if (victim === "ledger") {
        const leader = await currentLeader(leaders, "ledger").catch(() => undefined);
        const p = [...procs.values()].find((q) => q.name.startsWith("ledger") && q.child?.pid === leader?.pid);
        record.detail = p ? `${p.name} (leader)` : "no leader found";
        if (p) killProc(p);
        recoveries.push(
          (async () => {
            await untilTrue(async () => {
              const now = await currentLeader(leaders, "ledger").catch(() => undefined);
              if (!now || now.pid === leader?.pid) return false;
              return (await queryLedger(admin, "", 1_000).catch(() => undefined)) !== undefined;
            }, 120_000);
            recovered("standby elected and answering");
            if (p) await restart(p);
          })().catch((err) => progress(`ledger recovery not seen: ${(err as Error).message}`)),
        );
      } else {
        const names = [...procs.keys()].filter((n) => n.startsWith(victim === "gateway" ? "gateway" : "agents"));
        const p = procs.get(pick(names, rnd))!;
        record.detail = p.name;
        killProc(p);
        recoveries.push(
          restart(p)
            .then(() => recovered("process started again and ready"))
            .catch((err) => progress(`${p.name} recovery not seen: ${(err as Error).message}`)),
        );
      }
      progress(`t=${record.atS.toFixed(1)}s kill -9 ${victim}: ${record.detail}`);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, loadStarted + options.durationMs - Date.now())));
    await load.stopDeciding();
    progress("load stopped; waiting for recoveries, event retries and the ledger");
    await Promise.race([Promise.all(recoveries), new Promise((r) => setTimeout(r, 120_000))]);
    await load.drainEvents(120_000);
    for (const kill of kills) {
      const from = loadStarted + kill.atS * 1000;
      kill.decideFailuresAfter = load.failuresAt.filter((t) => t >= from && t < from + 10_000).length;
    }

    // Exactness: the ledger leader and a rebuild from the stream against what the client saw stored.
    const { state } = await retry(async () => (await jetstreamManager(admin)).streams.info(streams.events));
    let live = await queryLedger(admin).catch(() => undefined);
    for (let i = 0; i < 1_200 && (!live || live.lastSequence < BigInt(state.last_seq)); i++) {
      await new Promise((r) => setTimeout(r, 100));
      live = await queryLedger(admin).catch(() => undefined);
    }
    if (!live) throw new Error("the ledger did not answer");
    const rebuilt = (await retry(() => rebuildLedger(admin))).toSnapshot();
    const expected = load.expectedSpend();
    const campaigns: CampaignCheck[] = catalog.map(({ id, budget, lease }) => {
      const ledgerMicros = live.campaigns.find((c) => c.campaignId === id)?.spendMicros ?? 0n;
      return {
        campaignId: id,
        budgetMicros: budget,
        expectedMicros: expected.get(id) ?? 0n,
        ledgerMicros,
        rebuiltMicros: rebuilt.campaigns.find((c) => c.campaignId === id)?.spendMicros ?? 0n,
        overspendMicros: ledgerMicros > budget ? ledgerMicros - budget : 0n,
        boundMicros: BigInt(GATEWAYS) * lease,
      };
    });
    const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
    const worst = campaigns.reduce((a, c) => (c.overspendMicros > a.overspendMicros ? c : a), campaigns[0]!);
    const stats = load.stats();
    grants.stop();
    return {
      seconds: (Date.now() - started) / 1000,
      ...stats,
      ledgerImpressions: live.campaigns.reduce((a, c) => a + c.impressions, 0n),
      expectedSpendMicros: sum([...expected.values()]),
      ledgerSpendMicros: sum(live.campaigns.map((c) => c.spendMicros)),
      rebuiltSpendMicros: sum(rebuilt.campaigns.map((c) => c.spendMicros)),
      exact:
        campaigns.every((c) => c.expectedMicros === c.ledgerMicros && c.ledgerMicros === c.rebuiltMicros) &&
        stats.eventsUnconfirmed === 0 &&
        live.campaigns.reduce((a, c) => a + c.impressions, 0n) === BigInt(stats.uniqueImpressions),
      campaigns,
      largestOverspendMicros: worst.overspendMicros,
      largestOverspendBoundMicros: worst.boundMicros,
      withinBounds: campaigns.every((c) => c.overspendMicros <= c.boundMicros),
      staleLeaseEpochsSeen: grants.outOfOrder,
      kills,
      restartsAfterExit,
    };
  } finally {
    await stopAll();
  }
}

/**
 * The demo catalog with money that runs out within the run: every campaign ASAP, no daily or frequency cap, a
 * small budget. Returns each campaign's budget and its largest lease (LEASE_PPM of it, at least one ad).
 */
async function seedCatalog(nc: NatsConnection): Promise<{ id: string; budget: bigint; lease: bigint }[]> {
  const demo = demoCatalog({ advertisers: 6 });
  for (const c of demo.campaigns) {
    c.budgetMicros = BUDGET_MICROS;
    c.dailyBudgetMicros = 0n;
    c.pacing = PacingMode.ASAP;
    c.frequencyCap = undefined;
  }
  await loadDemoCatalog(new CatalogStore(await openCatalogBucket(jetstream(nc), 3)), demo);
  return demo.campaigns.map((c) => {
    const ad = ((c.bidStrategy?.maxCpmMicros ?? 1000n) + 999n) / 1000n;
    const share = (c.budgetMicros * BigInt(LEASE_PPM)) / 1_000_000n;
    return { id: c.id, budget: c.budgetMicros, lease: share > ad ? share : ad };
  });
}

/** Every grant of the lease log, live: the newest epoch, and grants that came with an older epoch than one before. */
async function watchLeaseLog(nc: NatsConnection) {
  const messages = await (
    await jetstream(nc).consumers.get(streams.leases, { deliver_policy: DeliverPolicy.New })
  ).consume();
  const state = { maxEpoch: 0n, outOfOrder: 0, stop: () => void messages.stop() };
  void (async () => {
    for await (const m of messages) {
      const epoch = fromBinary(LeaseGrantSchema, m.data).epoch;
      if (epoch < state.maxEpoch) state.outOfOrder++;
      else state.maxEpoch = epoch;
    }
  })().catch(() => undefined);
  return state;
}

/** True once the events, receipts and leases streams each have a leader and every replica is current. */
async function streamsWhole(nc: NatsConnection): Promise<boolean> {
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2_000 });
    for (const name of [streams.events, streams.receipts, streams.leases]) {
      const info = await jsm.streams.info(name);
      if (!info.cluster?.leader) return false;
      const replicas = info.cluster.replicas ?? [];
      if (replicas.length !== 2 || replicas.some((r) => !r.current || r.offline)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

interface PendingEvent {
  event: AdEvent;
  campaignId: string;
  priceMicros: bigint;
  /** Gateway the next attempt goes to. */
  gateway: number;
  /** An attempt's outcome was unknown (error): a later DUPLICATE of this event id means it was stored. */
  uncertain: boolean;
  repeat: boolean;
}

/**
 * Mixed load: Decide at a fixed rate (open loop) to the gateways in turn, retrying once on the other gateway; for
 * every sold ad its impression, sometimes a completion, and sometimes the impression again under a new event id (a
 * repeat the store must refuse). Events are retried, alternating gateways, until the store has answered for them.
 */
class ChaosLoad {
  private readonly clients: Client<typeof DecisionService>[];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();
  private readonly pending = new Set<PendingEvent>();
  private eventTimer: NodeJS.Timeout | undefined;
  readonly failuresAt: number[] = [];
  /** Decide errors by message (first and retried attempts). */
  readonly errors = new Map<string, number>();
  private decides = 0;
  private successes = 0;
  private firstTryFailures = 0;
  private filled = 0;
  private sent = 0;
  private accepted = 0;
  private duplicates = 0;
  private rejected = 0;
  /** decisionId \0 creativeId of every impression the store holds -> campaign and price. */
  private readonly stored = new Map<string, { campaignId: string; priceMicros: bigint }>();
  private readonly traffic: DemoTraffic;

  constructor(
    urls: string[],
    apiKey: string,
    private readonly rnd: () => number,
  ) {
    this.clients = urls.map((baseUrl) =>
      createClient(DecisionService, createGrpcTransport({ baseUrl, interceptors: [withApiKey(apiKey)] })),
    );
    // Its request builder: listeners, genres, devices as the demo sends them.
    this.traffic = new DemoTraffic(urls[0]!, apiKey, 1, () => undefined);
  }

  start(rate: number): void {
    const interval = 1000 / rate;
    const started = performance.now();
    let n = 0;
    this.timer = setInterval(() => {
      while (started + n * interval <= performance.now()) {
        const p = this.decideOnce(n++);
        this.inFlight.add(p);
        void p.finally(() => this.inFlight.delete(p));
      }
    }, 5);
    this.eventTimer = setInterval(() => void this.retryEvents(), 500);
  }

  async stopDeciding(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.inFlight);
  }

  async drainEvents(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.pending.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    clearInterval(this.eventTimer);
  }

  private async decideOnce(n: number): Promise<void> {
    const request = this.traffic.request(n);
    request.requestId = `chaos-${n}`;
    this.decides++;
    const first = n % this.clients.length;
    for (const [attempt, gateway] of [first, (first + 1) % this.clients.length].entries()) {
      try {
        const response = await this.clients[gateway]!.decide(request, { timeoutMs: 5_000 });
        this.successes++;
        if (response.ads.length > 0) this.filled++;
        for (const ad of response.ads) {
          const event = (type: AdEventType, suffix: string) =>
            create(AdEventSchema, {
              eventId: `${response.decisionId}:${ad.creativeId}:${suffix}`,
              decisionId: response.decisionId,
              creativeId: ad.creativeId,
              eventToken: ad.eventToken,
              type,
              occurredAt: timestampNow(),
            });
          const add = (e: AdEvent, repeat = false) => {
            this.sent++;
            this.pending.add({
              event: e,
              campaignId: ad.campaignId,
              priceMicros: ad.priceMicros,
              gateway,
              uncertain: false,
              repeat,
            });
          };
          add(event(AdEventType.IMPRESSION, "imp"));
          if (this.rnd() < 0.5) add(event(AdEventType.COMPLETE, "complete"));
          if (this.rnd() < 0.1) add(event(AdEventType.IMPRESSION, "imp-again"), true);
        }
        return;
      } catch (err) {
        if (attempt === 0) this.firstTryFailures++;
        const message = ConnectError.from(err).message.slice(0, 120);
        this.errors.set(message, (this.errors.get(message) ?? 0) + 1);
      }
    }
    this.failuresAt.push(Date.now());
  }

  private retrying = false;

  private async retryEvents(): Promise<void> {
    if (this.retrying || this.pending.size === 0) return;
    this.retrying = true;
    try {
      // Impressions before the rest, so a completion never goes ahead of its ad's impression.
      const batch = [...this.pending].sort((a, b) => Number(a.event.type) - Number(b.event.type)).slice(0, 200);
      const byGateway = new Map<number, PendingEvent[]>();
      for (const p of batch) byGateway.set(p.gateway, [...(byGateway.get(p.gateway) ?? []), p]);
      await Promise.all(
        [...byGateway].map(async ([gateway, items]) => {
          const impressions = items.filter((p) => p.event.type === AdEventType.IMPRESSION);
          const rest = items.filter((p) => p.event.type !== AdEventType.IMPRESSION);
          for (const group of [impressions, rest]) {
            if (group.length === 0) continue;
            try {
              const response = await this.clients[gateway]!.reportEvents(
                { events: group.map((p) => p.event) },
                { timeoutMs: 5_000 },
              );
              for (const [i, p] of group.entries()) this.settle(p, response.results[i]);
            } catch {
              for (const p of group) {
                p.uncertain = true;
                p.gateway = (p.gateway + 1) % this.clients.length;
              }
            }
          }
        }),
      );
    } finally {
      this.retrying = false;
    }
  }

  private settle(p: PendingEvent, result: EventResult | undefined): void {
    const status = result?.status;
    const reason = result?.reason ?? "";
    const key = `${p.event.decisionId}\u0000${p.event.creativeId}`;
    const impression = p.event.type === AdEventType.IMPRESSION;
    if (status === EventResult_Status.ACCEPTED) {
      this.accepted++;
      if (impression) this.stored.set(key, { campaignId: p.campaignId, priceMicros: p.priceMicros });
    } else if (status === EventResult_Status.DUPLICATE) {
      // The same event id after an unknown outcome: our earlier attempt was stored.
      if (p.uncertain && /stored before/.test(reason)) {
        this.accepted++;
        if (impression) this.stored.set(key, { campaignId: p.campaignId, priceMicros: p.priceMicros });
      } else this.duplicates++;
    } else if (status === EventResult_Status.REJECTED) {
      // A completion whose impression is still on its way, or a receipt still in a killed gateway's spool (its
      // successor under the same id replays it): ask again later.
      if (!impression && /before any impression/.test(reason)) return;
      if (result?.rejection === EventRejection.UNKNOWN_DECISION) return;
      this.rejected++;
    } else return;
    this.pending.delete(p);
  }

  expectedSpend(): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const { campaignId, priceMicros } of this.stored.values())
      out.set(campaignId, (out.get(campaignId) ?? 0n) + priceMicros);
    return out;
  }

  stats() {
    return {
      decides: this.decides,
      decideSuccess: this.successes,
      decideFirstTryFailures: this.firstTryFailures,
      decideSuccessRate: this.decides === 0 ? 0 : this.successes / this.decides,
      filled: this.filled,
      eventsSent: this.sent,
      eventsAccepted: this.accepted,
      eventsDuplicate: this.duplicates,
      eventsRejected: this.rejected,
      eventsUnconfirmed: this.pending.size,
      decideErrors: Object.fromEntries(this.errors),
      uniqueImpressions: this.stored.size,
    };
  }
}

function shuffle<T>(xs: T[], rnd: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

function pick<T>(xs: readonly T[], rnd: () => number): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

async function untilTrue(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function retry<T>(attempt: () => Promise<T>, tries = 60): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (i >= tries) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
