import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { seedCampaigns } from "../agents/budget/budget-fixture.ts";
import { AdEventType } from "../gen/chorus/v1/decision_pb.ts";
import { settleLedger } from "../ledger/rebuild.ts";
import { connectNats } from "../lib/nats/connect.ts";
import { natsClientAuth } from "../lib/nats/connect-options.ts";
import { freePort, NatsServerProcess } from "../lib/nats/nats-server-process.ts";
import { writeServerAuth } from "../lib/nats/server-auth.ts";
import { setUpBus } from "./bus-setup.ts";
import { meshIdentities } from "./mesh.ts";

export interface LedgerFaultOptions {
  /** Impressions each driver (gateway) gets confirmed. */
  eventsPerDriver: number;
  drivers: number;
  /** One kill -9 (ledger, budget agent, a driver, or nats-server) this often... */
  chaosEveryMs: number;
  /**
   * ...or, when set, exactly this many kills spread evenly over the run's progress (kill k once k/(n+1) of the
   * impressions are confirmed), so that a fast machine cannot finish before the faults.
   */
  kills?: number;
  onProgress?: (line: string) => void;
}

export interface LedgerFaultFigures {
  eventsSent: number;
  eventsConfirmed: number;
  eventsUnconfirmed: number;
  uniqueImpressions: number;
  expectedSpendMicros: bigint;
  ledgerSpendMicros: bigint;
  rebuiltSpendMicros: bigint;
  ledgerImpressions: bigint;
  streamMessages: number;
  streamLastSequence: number;
  ledgerLastSequence: bigint;
  kills: Record<string, number>;
  /** Processes that exited on their own (e.g. started while nats-server was down) and were restarted. */
  crashes: Record<string, number>;
  campaignsEqual: boolean;
  seconds: number;
}

const CAMPAIGNS = ["fault-a", "fault-b", "fault-c"];
const root = new URL("../", import.meta.url).pathname;

/**
 * The durability proof with real processes: a nats-server with JetStream on disk, the ledger process, the Budget
 * agent process and N gateway drivers, while one of them (or the server) is killed with SIGKILL and restarted on
 * a schedule. At the end the ledger must equal the sum of the unique impressions the drivers had confirmed (from
 * their own logs), per campaign, exactly; and a rebuild from the stream must give the same totals.
 */
export async function runLedgerFault(options: LedgerFaultOptions): Promise<LedgerFaultFigures> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), "chorus-ledger-fault-"));
  // The server admits only the mesh's identities with their least-privilege permissions, as npm start's does: the
  // ledger, the Budget agent, the drivers as gateways, the runner as the operator.
  const auth = writeServerAuth(join(dir, "auth"), meshIdentities([]));
  const server = await new NatsServerProcess({
    port: await freePort(),
    storeDir: join(dir, "jetstream"),
    configFile: auth.configFile,
  }).start();
  const admin = await connectNats({
    servers: server.url,
    name: "fault-runner",
    auth: natsClientAuth(auth.env("operator")),
  });
  const children = new Map<string, ChildProcess>();
  const kills: Record<string, number> = {};
  const crashes: Record<string, number> = {};
  let finished = false;
  try {
    await setUpBus(admin, { ...process.env, CHORUS_REPLICAS: "1" });
    const catalog = await seedCampaigns(
      jetstream(admin),
      CAMPAIGNS.map((id) => ({ id, budgetMicros: 1_000_000_000_000n })),
    );
    catalog.close();
    const env = {
      NATS_URL: server.url,
      LOG_LEVEL: "warn",
      BUDGET_LEASE_TTL_MS: "1000",
      BUDGET_RECLAIM_GRACE_MS: "300",
    };
    const logs = Array.from({ length: options.drivers }, (_, i) => join(dir, `driver-${i}.log`));
    const commands: Record<string, { file: string; env: Record<string, string> }> = {
      ledger: { file: "ledger/ledger-main.ts", env: { ...env, ...auth.env("ledger") } },
      budget: { file: "agents/budget/budget-main.ts", env: { ...env, ...auth.env("budget") } },
    };
    logs.forEach((log, i) => {
      commands[`driver-${i}`] = {
        file: "scripts/fault/ledger-fault-driver.ts",
        env: {
          ...env,
          ...auth.env("gateway"),
          DRIVER_ID: `gw${i}`,
          DRIVER_LOG: log,
          DRIVER_EVENTS: String(options.eventsPerDriver),
          DRIVER_CAMPAIGNS: CAMPAIGNS.join(","),
        },
      };
    });
    const done = new Set<string>();
    const confirmedBy = new Map<string, number>();
    let allDone!: () => void;
    let failed!: (err: Error) => void;
    const drivers = new Promise<void>((resolve, reject) => {
      allDone = resolve;
      failed = reject;
    });
    const launch = (name: string) => {
      const command = commands[name];
      if (!command) throw new Error(`no command ${name}`);
      const child = spawn(process.execPath, ["--import", "tsx", join(root, command.file)], {
        cwd: root,
        env: { ...process.env, ...command.env },
        stdio: ["ignore", "ignore", "pipe", "ipc"],
      });
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4_000);
      });
      child.once("exit", (code, signal) => {
        if (children.get(name) !== child || finished) return;
        if (code === 0 && name.startsWith("driver-")) {
          done.add(name);
          if (done.size === options.drivers) allDone();
        } else if (signal !== "SIGKILL") {
          // A driver whose event was rejected found a bug: stop. Anything else (a process started while
          // nats-server was down, a client library giving up) is restarted, as a supervisor would, and counted.
          if (/rejected/.test(stderr)) failed(new Error(`${name} exited with ${code ?? signal}:\n${stderr}`));
          else {
            crashes[name] = (crashes[name] ?? 0) + 1;
            progress(
              `${name} exited by itself (${code ?? signal}); restarting: ${stderr.split("\n").find((l) => /error/i.test(l)) ?? stderr.slice(-200)}`,
            );
            setTimeout(() => !finished && children.get(name) === child && launch(name), 300);
          }
        }
      });
      child.on("message", (m: { type?: string; confirmed?: number }) => {
        if (m.type === "progress" && m.confirmed !== undefined) confirmedBy.set(name, m.confirmed);
      });
      children.set(name, child);
    };
    launch("ledger");
    launch("budget");
    for (let i = 0; i < options.drivers; i++) launch(`driver-${i}`);

    const victims = ["ledger", "driver-0", "nats", "budget", ...logs.map((_, i) => `driver-${i}`).slice(1)];
    const target = options.eventsPerDriver * options.drivers;
    let round = 0;
    let killed = 0;
    let lastKill = Date.now();
    const chaos = setInterval(() => {
      const confirmedTotal = [...confirmedBy.values()].reduce((a, b) => a + b, 0);
      const due =
        options.kills === undefined
          ? Date.now() - lastKill >= options.chaosEveryMs
          : killed < options.kills && confirmedTotal >= (target * (killed + 1)) / (options.kills + 1);
      if (!due) return;
      lastKill = Date.now();
      // The next victim in turn that is still running (a finished driver cannot be killed mid-run).
      let victim = victims[round++ % victims.length] ?? "ledger";
      while (done.has(victim)) victim = victims[round++ % victims.length] ?? "ledger";
      killed++;
      kills[victim] = (kills[victim] ?? 0) + 1;
      progress(`kill -9 ${victim} at ${confirmedTotal} confirmed impressions`);
      if (victim === "nats") {
        void server.kill().then(() => server.start());
        return;
      }
      children.get(victim)?.kill("SIGKILL");
      launch(victim);
    }, 100);
    const report = setInterval(
      () => progress(`confirmed impressions per driver: ${[...confirmedBy.values()].join(", ")}`),
      5_000,
    );
    try {
      await drivers;
    } finally {
      clearInterval(chaos);
      clearInterval(report);
    }
    progress("drivers done; waiting for the ledger to catch up");

    // Expected: the unique impressions (by ad) among the events the drivers saw stored.
    const sent = new Map<string, string[]>();
    const confirmed = new Set<string>();
    for (const log of logs)
      for (const line of readFileSync(log, "utf8").split("\n").slice(0, -1)) {
        const parts = line.split(" ");
        if (parts[0] === "S" && parts[1]) sent.set(parts[1], parts);
        if (parts[0] === "C" && parts[1]) confirmed.add(parts[1]);
      }
    const expected = new Map<string, bigint>();
    const ads = new Set<string>();
    for (const id of confirmed) {
      const [, , decisionId, creativeId, campaignId, price, type] = sent.get(id) ?? [];
      if (Number(type) !== AdEventType.IMPRESSION || !campaignId || ads.has(`${decisionId} ${creativeId}`)) continue;
      ads.add(`${decisionId} ${creativeId}`);
      expected.set(campaignId, (expected.get(campaignId) ?? 0n) + BigInt(price ?? 0));
    }

    // The last fault may have been a server restart: settleLedger retries until JetStream answers again.
    const { stream: state, live, rebuilt } = await settleLedger(admin);
    const sum = (xs: { spendMicros: bigint }[]) => xs.reduce((a, c) => a + c.spendMicros, 0n);
    const campaignsEqual = CAMPAIGNS.every((id) => {
      const want = expected.get(id) ?? 0n;
      const got = live.campaigns.find((c) => c.campaignId === id)?.spendMicros ?? 0n;
      const again = rebuilt.campaigns.find((c) => c.campaignId === id)?.spendMicros ?? 0n;
      return want === got && got === again;
    });
    return {
      eventsSent: sent.size,
      eventsConfirmed: confirmed.size,
      eventsUnconfirmed: [...sent.keys()].filter((id) => !confirmed.has(id)).length,
      uniqueImpressions: ads.size,
      expectedSpendMicros: [...expected.values()].reduce((a, b) => a + b, 0n),
      ledgerSpendMicros: sum(live.campaigns),
      rebuiltSpendMicros: sum(rebuilt.campaigns),
      ledgerImpressions: live.campaigns.reduce((a, c) => a + c.impressions, 0n),
      streamMessages: state.messages,
      streamLastSequence: state.last_seq,
      ledgerLastSequence: live.lastSequence,
      kills,
      crashes,
      campaignsEqual,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    finished = true;
    for (const child of children.values()) child.kill("SIGKILL");
    await admin.close().catch(() => undefined);
    await server.stop();
  }
}
