import { jetstream } from "@nats-io/jetstream";
import { collectDefaultMetrics, Registry } from "prom-client";
import { loadConfig, parsers } from "../lib/config/config.ts";
import { createLogger } from "../lib/log/logger.ts";
import { badMessagesCounter } from "../lib/nats/bad-messages.ts";
import { connectNats } from "../lib/nats/connect.ts";
import { leaderElectionConfig, openLeaderBucket } from "../lib/nats/leader-election.ts";
import { LeaderRole } from "../lib/nats/leader-role.ts";
import { onShutdown, signalReady } from "../lib/process/child-lifecycle.ts";
import { metricsConfigSchema, startMetricsServer } from "../lib/process/metrics-server.ts";
import { Ledger } from "./ledger.ts";

/**
 * The ledger process: NATS_URL=nats://127.0.0.1:4222 node --import tsx ledger/ledger-main.ts
 * Run one or several: exactly one is active (lib/nats/leader-role.ts), the others take over when it dies.
 */
const config = loadConfig({
  natsUrl: { env: "NATS_URL", default: "nats://127.0.0.1:4222", parse: parsers.string, help: "NATS server URL" },
  metricsPort: metricsConfigSchema.port,
  metricsHost: metricsConfigSchema.host,
});
const log = createLogger(process.env.CHORUS_PROCESS_NAME ?? "ledger");
// Crash-only: anything unexpected ends the process and its supervisor restarts it; the state is rebuilt exactly.
process.on("unhandledRejection", (err) => {
  log.fatal({ err }, "unhandled rejection; exiting");
  process.exit(1);
});
// Events skipped as undecodable or out of range (quarantined): chorus_bad_messages_total{consumer="ledger",...}.
const registry = new Registry();
registry.registerMetric(badMessagesCounter);
collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1_000 });
const metricsServer = await startMetricsServer(config.metricsPort, registry, config.metricsHost);
const nc = await connectNats({ servers: config.natsUrl, name: "chorus-ledger" });
const election = loadConfig(leaderElectionConfig);
const instanceId = crypto.randomUUID().slice(0, 8);
// Several ledger processes may run: the leader folds events and writes the snapshot (its writes also fenced by the
// snapshot's compare-and-set); a standby starts from the snapshot when it takes over.
const role = await new LeaderRole<Ledger>({
  election: {
    kv: await openLeaderBucket(jetstream(nc), election.ttlMs),
    key: "ledger",
    instanceId,
    ttlMs: election.ttlMs,
    nc,
  },
  logger: log,
  lead: (_epoch, isLeader) => Ledger.start({ nc, log, fence: isLeader }),
}).start();
onShutdown(async () => {
  await role.stop();
  await nc.drain();
  await metricsServer?.close();
});
signalReady({ instance: instanceId, leader: role.isLeader, metricsPort: metricsServer?.port });
log.info({ instance: instanceId, leader: role.isLeader }, "ledger ready");
