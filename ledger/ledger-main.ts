import { jetstream } from "@nats-io/jetstream";
import { loadConfig, parsers } from "../lib/config/config.ts";
import { createLogger } from "../lib/log/logger.ts";
import { connectNats } from "../lib/nats/connect.ts";
import { leaderElectionConfig, openLeaderBucket } from "../lib/nats/leader-election.ts";
import { LeaderRole } from "../lib/nats/leader-role.ts";
import { onShutdown, signalReady } from "../lib/process/child-lifecycle.ts";
import { Ledger } from "./ledger.ts";

/**
 * The ledger process: NATS_URL=nats://127.0.0.1:4222 node --import tsx ledger/ledger-main.ts
 * Run one or several: exactly one is active (lib/nats/leader-role.ts), the others take over when it dies.
 */
const config = loadConfig({
  natsUrl: { env: "NATS_URL", default: "nats://127.0.0.1:4222", parse: parsers.string, help: "NATS server URL" },
});
const log = createLogger(process.env.CHORUS_PROCESS_NAME ?? "ledger");
// Crash-only: anything unexpected ends the process and its supervisor restarts it; the state is rebuilt exactly.
process.on("unhandledRejection", (err) => {
  log.fatal({ err }, "unhandled rejection; exiting");
  process.exit(1);
});
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
});
signalReady({ instance: instanceId, leader: role.isLeader });
log.info({ instance: instanceId, leader: role.isLeader }, "ledger ready");
