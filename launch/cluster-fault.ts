import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary as decode, toBinary } from "@bufbuild/protobuf";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { PacingMode } from "../gen/chorus/v1/campaign_pb.ts";
import { LeaseGrantSchema, LeaseRequestSchema } from "../gen/chorus/v1/ledger_pb.ts";
import { queryLedger } from "../ledger/ledger.ts";
import { settleLedger } from "../ledger/rebuild.ts";
import { CatalogStore, openCatalogBucket } from "../lib/catalog/catalog-store.ts";
import { demoCatalog, loadDemoCatalog } from "../lib/demo/demo-catalog.ts";
import { connectNats, type NatsConnection } from "../lib/nats/connect.ts";
import { natsClientAuth } from "../lib/nats/connect-options.ts";
import { currentLeader, openLeaderBucket } from "../lib/nats/leader-election.ts";
import { NatsCluster } from "../lib/nats/nats-cluster.ts";
import { freePort } from "../lib/nats/nats-server-process.ts";
import { writeServerAuth } from "../lib/nats/server-auth.ts";
import { permissionViolations } from "../lib/nats/server-log.ts";
import { ensurePseudonymKeyFile } from "../lib/privacy/pseudonym-key.ts";
import { type RunningChild, startChild } from "../lib/process/launcher.ts";
import { createSeededRandom } from "../lib/random/seeded-random.ts";
import { streams, subjects } from "../lib/subjects.ts";
import { bootstrapCredentials } from "./bootstrap-credentials.ts";
import { setUpBus } from "./bus-setup.ts";
import { ChaosLoad } from "./chaos-load.ts";
import { DEFAULT_AGENT_GROUPS, meshIdentities } from "./mesh.ts";

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
  /** Each process's stderr is appended to `<logDir>/<name>.log`, at LOG_LEVEL=warn (election and start-up retries). */
  logDir?: string;
}

export interface KillRecord {
  atS: number;
  victim: Victim;
  detail: string;
  /** Seconds from the kill until the role is served again (see recoveredBy). */
  recoveryS: number | undefined;
  /**
   * Budget and ledger leader kills: seconds from the kill to the successor's election write in `chorus_leaders`
   * (the server's timestamp of the first write under the role's key by another process).
   */
  electedS?: number;
  /**
   * Budget leader kills: seconds from the kill until a lease request is answered again, i.e. the new leader has
   * rebuilt its book from the ledger, the lease log and receipts and serves (what `recoveryS` is for the Budget).
   */
  readyS?: number;
  /** Budget leader kills: seconds until the first grant with the new epoch is in the lease log (needs demand). */
  firstGrantS?: number;
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
  /** How long the load ran: the run's duration, then until every kill's recovery was seen. */
  loadSeconds: number;
  /** The machine's 1-minute load average per core, sampled every second while the load ran: median and largest. */
  loadPerCore: { median: number; max: number };
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
  eventsUnconfirmedAnswers: Record<string, number>;
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
  /**
   * Receipt lines still in the gateways' spools at the end (spooled or mid-replay): sales the ledger cannot charge.
   * Must be 0; a spool replayed only on a reconnect left them there when the connection outlived the stream leader.
   */
  receiptsLeftInSpools: number;
  /** Refusals the servers logged (the mesh runs with per-identity permissions, as npm start's): must be 0. */
  permissionViolations: number;
  permissionViolationSamples: string[];
}

const GATEWAYS = 2;
const LEASE_PPM = 50_000; // 5% of a campaign's budget per lease (at least one ad)
const BUDGET_MICROS = 400_000n;

interface Proc {
  name: string;
  entry: string;
  env: Record<string, string>;
  /** The running instance. A child the runner kills stops being this at once, so its exit is not a crash. */
  child?: RunningChild;
  /** Resolves once the child the runner killed has exited (a restart waits for it: never two at once). */
  killed?: Promise<void>;
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
  // What the runner itself opens (ledger streams, API keys, the election bucket) is created with 3 copies too.
  process.env.CHORUS_REPLICAS = "3";
  // The servers admit only the mesh's identities, each with its own least-privilege permissions, as npm start's do
  // (launch/mesh.ts): the chaos proves the configuration that runs in production, not an open server.
  const auth = writeServerAuth(join(dir, "auth"), meshIdentities(DEFAULT_AGENT_GROUPS));
  const operator = natsClientAuth(auth.env("operator"));
  const cluster = await NatsCluster.start({
    size: 3,
    storeDir: join(dir, "nats"),
    configFile: auth.configFile,
    auth: operator,
    logDir: join(dir, "nats-logs"),
  });
  progress(`cluster up: ${cluster.url}`);
  const admin = await connectNats({ servers: cluster.url, name: "chorus-chaos-runner", auth: operator });
  // The runner asks the Budget leader whether it serves as a gateway would: with the gateway's identity.
  const probe = await connectNats({
    servers: cluster.url,
    name: "chorus-chaos-probe",
    auth: natsClientAuth(auth.env("gateway")),
  });
  const procs = new Map<string, Proc>();
  const restartsAfterExit: Record<string, number> = {};
  let finished = false;
  const stopAll = async () => {
    finished = true;
    for (const p of procs.values()) p.child?.process.kill("SIGKILL");
    await admin.close().catch(() => undefined);
    await probe.close().catch(() => undefined);
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const base = {
      NATS_URL: cluster.url,
      CHORUS_REPLICAS: "3",
      LOG_LEVEL: options.logDir ? "warn" : "error",
      BUDGET_LEASE_TTL_MS: "2000",
      BUDGET_RECLAIM_GRACE_MS: "1000",
      BUDGET_MAX_LEASE_PPM: String(LEASE_PPM),
      CHORUS_LEADER_TTL_MS: "2000",
      // The pseudonym key is the gateways' secret alone (as in launch/mesh.ts); they get it below.
      CHORUS_PSEUDONYM_KEY_FILE: "",
      CHORUS_PSEUDONYM_SALT: "",
    };
    // Only the operator lays out streams and buckets (launch/bus-setup.ts); every process only opens them.
    await setUpBus(admin, { ...process.env, ...base });
    const catalog = await seedCatalog(admin);
    const credentials = await bootstrapCredentials(cluster.url, undefined, operator);
    const pseudonymKeyFile = ensurePseudonymKeyFile(join(dir, "pseudonym.key"));
    const gatewayPorts = await Promise.all(Array.from({ length: GATEWAYS }, () => freePort()));
    // Each process connects as its kind's identity (both ledgers as `ledger`, both gateways as `gateway`, ...).
    const add = (name: string, identity: string, entry: string, env: Record<string, string> = {}) =>
      procs.set(name, { name, entry, env: { ...base, ...env, ...auth.env(identity) } });
    add("ledger-1", "ledger", "ledger/ledger-main");
    add("ledger-2", "ledger", "ledger/ledger-main");
    add("budget-1", "budget", "agents/budget/budget-main");
    add("budget-2", "budget", "agents/budget/budget-main");
    for (const [i, agents] of DEFAULT_AGENT_GROUPS.entries())
      add(`agents-${i + 1}`, `agents-${i + 1}`, "agents/host", { AGENTS: agents.join(",") });
    gatewayPorts.forEach((port, i) => {
      add(`gateway-${i + 1}`, "gateway", "gateway/main", {
        GATEWAY_ID: `gw-${i + 1}`,
        EVENT_TOKEN_KEYS: credentials.eventTokenKeys,
        // One key for both gateways: a listener is the same pseudonym whichever gateway answers.
        CHORUS_PSEUDONYM_KEY_FILE: pseudonymKeyFile,
        GATEWAY_PORT: String(port),
        CHORUS_SPOOL_DIR: join(dir, "spool"),
      });
    });

    const launch = async (p: Proc): Promise<RunningChild> => {
      for (;;) {
        try {
          const child = await startChild(
            {
              name: p.name,
              entry: p.entry,
              env: p.env,
              readyTimeoutMs: 90_000,
              logFile: options.logDir ? join(options.logDir, `${p.name}.log`) : undefined,
            },
            {
              silent: true,
            },
          );
          // A start that completes after the run ended would be left running by stopAll: end it here.
          if (finished) {
            child.process.kill("SIGKILL");
            throw new Error(`${p.name} started after the run ended`);
          }
          p.child = child;
          child.process.once("exit", (code, signal) => {
            if (finished || p.child !== child) return;
            restartsAfterExit[p.name] = (restartsAfterExit[p.name] ?? 0) + 1;
            progress(
              `${p.name} exited by itself (${code ?? signal}); starting it again\n${child.stderrTail().slice(-1500)}`,
            );
            setTimeout(() => !finished && void launch(p).catch(() => undefined), 500);
          });
          return child;
        } catch (err) {
          if (finished) throw err;
          restartsAfterExit[p.name] = (restartsAfterExit[p.name] ?? 0) + 1;
          // The message ends with the child's stderr: the crash's stack, not just the runtime's last line.
          progress(`${p.name} did not start; again: ${(err as Error).message.slice(-1500)}`);
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    };
    // The money side and the agent hosts first (they do not wait for each other), then the gateways, which need
    // the ledger's streams and a Budget leader's leases before they are ready.
    const timed = async (names: string[]) => {
      const t0 = Date.now();
      await Promise.all(names.map((n) => launch(procs.get(n)!)));
      return `${names.join(", ")} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    };
    progress(await timed(["ledger-1", "ledger-2", "budget-1", "budget-2", "agents-1", "agents-2"]));
    progress(await timed(gatewayPorts.map((_, i) => `gateway-${i + 1}`)));
    progress(
      `mesh up in ${((Date.now() - started) / 1000).toFixed(1)} s; load ${options.rate}/s for ${options.durationMs / 1000} s`,
    );

    const leaders = await openLeaderBucket(jetstream(admin), 2_000, 3);
    const grants = await watchLeaseLog(admin);
    const elections = await watchElections(leaders);
    const load = new ChaosLoad(
      gatewayPorts.map((port) => `http://127.0.0.1:${port}`),
      credentials.decideKey,
      rnd,
    );
    const loadStarted = Date.now();
    load.start(options.rate);
    const loadSamples: number[] = [];
    const sampler = setInterval(() => loadSamples.push(loadavg()[0]! / availableParallelism()), 1_000);
    sampler.unref();

    // The leader key names a process of ours; between a lease's expiry and the next election it names none, so look
    // again for a few seconds rather than skip the kill.
    const findLeader = async (role: "budget" | "ledger") => {
      for (let i = 0; ; i++) {
        const leader = await readLeader(role);
        const p = [...procs.values()].find((q) => q.name.startsWith(role) && q.child?.pid === leader?.pid);
        if (p || i >= 50) return { leader, p };
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    // The key, or why it could not be read (the runner's own connection may be what failed).
    let keyReadError = "";
    const readLeader = (role: "budget" | "ledger") =>
      currentLeader(leaders, role).then(
        (leader) => {
          keyReadError = "";
          return leader;
        },
        (err: Error) => {
          keyReadError = err.message;
          return undefined;
        },
      );
    // What the key held and which processes ran, for a kill that found no leader.
    const noLeader = (role: string, leader: { pid: number; revision: number } | undefined) =>
      `key: ${leader ? `pid ${leader.pid} rev ${leader.revision}` : keyReadError ? `unreadable (${keyReadError})` : "none"}; running: ${[
        ...procs.values(),
      ]
        .filter((q) => q.name.startsWith(role))
        .map((q) => `${q.name} pid ${q.child?.pid ?? "-"}`)
        .join(", ")}`;
    const kills: KillRecord[] = [];
    const victims: Victim[] = ["nats-stream-leader", "budget-leader", "ledger", "gateway", "agent-host"];
    const order = shuffle([...victims], rnd);
    const restartDelay = options.restartDelayMs ?? 1_000;
    const recoveries: Promise<void>[] = [];
    const firstGrants: Promise<void>[] = [];
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
      // On a loaded machine a killed child's exit can arrive after the restart delay; it used to be taken for a
      // crash then, and a second instance was started beside the restarted one (two Budget agents of one name,
      // the runner tracking only one of them: "no leader found").
      const restart = async (p: Proc) => {
        await Promise.all([p.killed, new Promise((r) => setTimeout(r, restartDelay))]);
        return launch(p);
      };
      const killProc = (p: Proc) => {
        const child = p.child?.process;
        p.child = undefined;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        p.killed = new Promise((r) => child.once("exit", () => r()));
        child.kill("SIGKILL");
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
            // As a supervisor would: a server that did not come up (slow store recovery under load) is started
            // again; the run used to go on with two servers for good.
            for (let attempt = 1; ; attempt++) {
              try {
                await cluster.restart(Math.max(0, index));
                break;
              } catch (err) {
                if (finished || attempt >= 5) throw err;
                progress(
                  `${node.name} did not start (attempt ${attempt}); again: ${(err as Error).message.slice(0, 300)}`,
                );
              }
            }
            await untilTrue(() => streamsWhole(admin), 120_000);
            recovered("server back, every stream's 3 replicas current");
          })().catch((err) => progress(`nats recovery not seen: ${(err as Error).message}`)),
        );
      } else if (victim === "budget-leader") {
        const { leader, p } = await findLeader("budget");
        record.detail = p ? `${p.name} (epoch ${leader?.revision})` : `no leader found (${noLeader("budget", leader)})`;
        const epochBefore = grants.maxEpoch;
        if (p) killProc(p);
        const since = (t: number) => (t - at) / 1000;
        // Three moments: the successor's election write, its first answer to a lease request (book rebuilt, serving:
        // the takeover), and its first grant in the lease log. Only the last needs demand; it is waited for while
        // the load runs, but a run whose campaigns have spent out may see none.
        // Read two ways, the earlier wins: the runner's lease-log consumer (which a server kill can stall for a while:
        // the observer, not the Budget) and the stream's newest message, read directly.
        let direct: number | undefined;
        firstGrants.push(
          untilTrue(async () => {
            if (grants.maxEpoch > epochBefore) return true;
            const newest = await newestGrant(admin);
            if (newest && newest.epoch > epochBefore) direct = newest.at;
            return direct !== undefined;
          }, 60_000).then(
            () => {
              record.firstGrantS = since(Math.min(grants.firstAfter(epochBefore) ?? Infinity, direct ?? Infinity));
            },
            () =>
              progress(`budget: no grant with a newer epoch within 60 s of the kill at t=${record.atS.toFixed(1)}s`),
          ),
        );
        recoveries.push(
          (async () => {
            await Promise.all([
              elections.after("budget", leader?.pid, at, 120_000).then((t) => {
                record.electedS = since(t);
              }),
              untilTrue(() => budgetAnswers(probe), 120_000).then(() => {
                record.readyS = since(Date.now());
              }),
            ]);
            recovered("new leader answers lease requests (book rebuilt)");
            if (p) await restart(p);
          })().catch((err) => progress(`budget recovery not seen: ${(err as Error).message}`)),
        );
      } else if (victim === "ledger") {
        const { leader, p } = await findLeader("ledger");
        record.detail = p ? `${p.name} (leader)` : `no leader found (${noLeader("ledger", leader)})`;
        if (p) killProc(p);
        recoveries.push(
          (async () => {
            const elected = elections.after("ledger", leader?.pid, at, 120_000).then((t) => {
              record.electedS = (t - at) / 1000;
            });
            await untilTrue(async () => {
              const now = await currentLeader(leaders, "ledger").catch(() => undefined);
              if (!now || now.pid === leader?.pid) return false;
              return (await queryLedger(admin, "", 1_000).catch(() => undefined)) !== undefined;
            }, 120_000);
            recovered("standby elected and answering");
            await elected;
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
            .then((child) => {
              recovered("process started again and ready");
              const steps = child.ready.startupMs;
              if (steps)
                progress(
                  `${p.name} ready again after ${record.recoveryS?.toFixed(1)} s; its start (ms): ${JSON.stringify(steps)}`,
                );
            })
            .catch((err) => progress(`${p.name} recovery not seen: ${(err as Error).message}`)),
        );
      }
      progress(`t=${record.atS.toFixed(1)}s kill -9 ${victim}: ${record.detail}`);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, loadStarted + options.durationMs - Date.now())));
    // The load goes on until every kill's recovery is seen (at most 2 more minutes), so that a late kill's
    // recovery is measured under the same load as the others, and the first grants have demand.
    progress("kills done; load goes on until every recovery is seen");
    await Promise.race([Promise.all([...recoveries, ...firstGrants]), new Promise((r) => setTimeout(r, 120_000))]);
    const loadSeconds = (Date.now() - loadStarted) / 1000;
    await load.stopDeciding();
    clearInterval(sampler);
    elections.stop();
    progress(`load stopped after ${loadSeconds.toFixed(1)} s; waiting for event retries and the ledger`);
    await load.drainEvents(120_000);
    for (const kill of kills) {
      const from = loadStarted + kill.atS * 1000;
      kill.decideFailuresAfter = load.failuresAt.filter((t) => t >= from && t < from + 10_000).length;
    }

    // Exactness: the ledger leader and a rebuild from the stream against what the client saw stored.
    const { live, rebuilt } = await settleLedger(admin).catch(async (err: Error) => {
      const leader = await readLeader("ledger");
      throw new Error(`${err.message} (${noLeader("ledger", leader)})`);
    });
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
    const receiptsLeftInSpools = countSpooledReceipts(join(dir, "spool"));
    // What the least-privilege configuration refused: a process denied something it needs is a failure.
    const violations = cluster.logFiles.flatMap((f) => permissionViolations(f));
    const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
    const worst = campaigns.reduce((a, c) => (c.overspendMicros > a.overspendMicros ? c : a), campaigns[0]!);
    const stats = load.stats();
    grants.stop();
    return {
      seconds: (Date.now() - started) / 1000,
      loadSeconds,
      loadPerCore: {
        median: [...loadSamples].sort((a, b) => a - b)[Math.floor(loadSamples.length / 2)] ?? 0,
        max: Math.max(0, ...loadSamples),
      },
      ...stats,
      ledgerImpressions: live.campaigns.reduce((a, c) => a + c.impressions, 0n),
      expectedSpendMicros: sum([...expected.values()]),
      ledgerSpendMicros: sum(live.campaigns.map((c) => c.spendMicros)),
      rebuiltSpendMicros: sum(rebuilt.campaigns.map((c) => c.spendMicros)),
      exact:
        campaigns.every((c) => c.expectedMicros === c.ledgerMicros && c.ledgerMicros === c.rebuiltMicros) &&
        stats.eventsUnconfirmed === 0 &&
        receiptsLeftInSpools === 0 &&
        live.campaigns.reduce((a, c) => a + c.impressions, 0n) === BigInt(stats.uniqueImpressions),
      campaigns,
      largestOverspendMicros: worst.overspendMicros,
      largestOverspendBoundMicros: worst.boundMicros,
      withinBounds: campaigns.every((c) => c.overspendMicros <= c.boundMicros),
      staleLeaseEpochsSeen: grants.outOfOrder,
      kills,
      restartsAfterExit,
      receiptsLeftInSpools,
      permissionViolations: violations.length,
      permissionViolationSamples: [...new Set(violations.map((v) => `${v.client} ${v.kind} ${v.subject}`))].slice(
        0,
        10,
      ),
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
  /** Per epoch, the server's time of its first grant. */
  const firstOf = new Map<bigint, number>();
  const state = {
    maxEpoch: 0n,
    outOfOrder: 0,
    stop: () => void messages.stop(),
    /** When the first grant with a newer epoch than `epoch` was stored (server time), if one was seen. */
    firstAfter: (epoch: bigint) => {
      const times = [...firstOf].filter(([e]) => e > epoch).map(([, t]) => t);
      return times.length > 0 ? Math.min(...times) : undefined;
    },
  };
  void (async () => {
    for await (const m of messages) {
      const epoch = decode(LeaseGrantSchema, m.data).epoch;
      if (!firstOf.has(epoch)) firstOf.set(epoch, Math.floor(m.info.timestampNanos / 1e6));
      if (epoch < state.maxEpoch) state.outOfOrder++;
      else state.maxEpoch = epoch;
    }
  })().catch(() => undefined);
  return state;
}

/** The lease log's newest grant, read directly (no consumer to stall): its epoch and when the server stored it. */
async function newestGrant(nc: NatsConnection): Promise<{ epoch: bigint; at: number } | undefined> {
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2_000, checkAPI: false });
    const last = (await jsm.streams.info(streams.leases)).state.last_seq;
    const m = last > 0 ? await jsm.streams.getMessage(streams.leases, { seq: last }) : null;
    return m ? { epoch: decode(LeaseGrantSchema, m.data).epoch, at: m.time.getTime() } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every write to the election bucket (`chorus_leaders`), live: which process wrote which role's key, by the server's
 * timestamp. `after(role, pid, t)` resolves with the time of the first write under `role` after `t` by another
 * process than `pid`: the successor's election (a leader's renewals come from its own pid).
 */
async function watchElections(kv: KV) {
  const writes: { key: string; pid: number; at: number }[] = [];
  const watch = await kv.watch();
  void (async () => {
    for await (const e of watch) {
      if (e.operation !== "PUT") continue;
      const pid = (JSON.parse(e.string()) as { pid?: number }).pid ?? 0;
      writes.push({ key: e.key, pid, at: e.created.getTime() });
    }
  })().catch(() => undefined);
  return {
    stop: () => watch.stop(),
    after: async (role: string, pid: number | undefined, t: number, timeoutMs: number): Promise<number> => {
      const find = () => writes.find((w) => w.key === role && w.pid !== pid && w.at >= t)?.at;
      // The watch is an ordered consumer, which a server kill can stall: the key is also read directly. Its entry
      // is the successor's newest write, the election itself unless a renewal (every TTL/4) came before this read.
      let read: number | undefined;
      await untilTrue(async () => {
        if (find() !== undefined) return true;
        const entry = await kv.get(role).catch(() => null);
        const holder = entry?.operation === "PUT" ? (JSON.parse(entry.string()) as { pid?: number }).pid : undefined;
        if (entry && holder !== undefined && holder !== pid && entry.created.getTime() >= t)
          read = entry.created.getTime();
        return read !== undefined;
      }, timeoutMs);
      return Math.min(find() ?? Infinity, read ?? Infinity);
    },
  };
}

/**
 * True when a lease request is answered (any answer: this asks for a campaign that does not exist, so nothing is
 * granted). Only the Budget leader subscribes to lease requests, once its book is rebuilt; before that the request
 * finds no responder.
 */
async function budgetAnswers(nc: NatsConnection): Promise<boolean> {
  const request = create(LeaseRequestSchema, { gatewayId: "chaos-probe", campaignId: "chaos-probe-no-such-campaign" });
  try {
    const reply = decode(
      LeaseGrantSchema,
      (await nc.request(subjects.budgetLease, toBinary(LeaseRequestSchema, request), { timeout: 1_000 })).data,
    );
    // A deposed leader that still answers says so; that is not the successor.
    return !/no longer the leader/.test(reply.reason);
  } catch {
    return false;
  }
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

/** Receipt lines (complete or not) in every gateway's spool files under `spoolRoot/<gateway id>/`. */
function countSpooledReceipts(spoolRoot: string): number {
  if (!existsSync(spoolRoot)) return 0;
  let lines = 0;
  for (const gateway of readdirSync(spoolRoot)) {
    for (const file of readdirSync(join(spoolRoot, gateway))) {
      if (!file.endsWith(".receipts") && !file.endsWith(".replay")) continue;
      lines += readFileSync(join(spoolRoot, gateway, file), "utf8")
        .split("\n")
        .filter((l) => l.length > 0).length;
    }
  }
  return lines;
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
