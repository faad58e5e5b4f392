import { jetstream } from "@nats-io/jetstream";
import { openCatalogBucket } from "../../lib/catalog/catalog-store.ts";
import { CatalogView } from "../../lib/catalog/catalog-view.ts";
import { loadConfig, parsers } from "../../lib/config/config.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { connectNats } from "../../lib/nats/connect.ts";
import { leaderElectionConfig, openLeaderBucket } from "../../lib/nats/leader-election.ts";
import { LeaderRole } from "../../lib/nats/leader-role.ts";
import { onShutdown, signalReady } from "../../lib/process/child-lifecycle.ts";
import { loadModuleConfig } from "../../modules/module-config.ts";
import { metricsConfigSchema, startMetricsServer } from "../../telemetry/metrics.ts";
import { budgetAgent } from "../../voting/budget/agent.ts";
import type { BudgetState } from "../../voting/budget/state.ts";
import { startAgentScoring } from "../../voting/registry/start-agent-scoring.ts";
import { runAgent } from "../runtime/run-agent.ts";
import { BudgetService } from "./budget-service.ts";

/**
 * The Budget agent process: the agent (votes, signals) plus its money side (leases, books). Run one or several:
 * exactly one leads and grants leases (lib/nats/leader-role.ts).
 *   NATS_URL=nats://127.0.0.1:4222 node --import tsx agents/budget/budget-main.ts
 */
const config = loadConfig({
  natsUrl: { env: "NATS_URL", default: "nats://127.0.0.1:4222", parse: parsers.string, help: "NATS server URL" },
  leaseTtlMs: { env: "BUDGET_LEASE_TTL_MS", default: 5_000, parse: parsers.int(100, 600_000), help: "lease TTL" },
  graceMs: { env: "BUDGET_RECLAIM_GRACE_MS", default: 2_000, parse: parsers.int(0, 600_000), help: "reclaim grace" },
  leasePpm: {
    env: "BUDGET_MAX_LEASE_PPM",
    default: 1_000,
    parse: parsers.int(1, 1_000_000),
    help: "largest lease in millionths of the budget (1000 = 0.1%)",
  },
  lookaheadPpm: {
    env: "BUDGET_LOOKAHEAD_PPM",
    default: 10_000,
    parse: parsers.int(0, 1_000_000),
    help: "pacing lookahead in millionths of the flight (10000 = 1%): leases follow the plan this far ahead",
  },
  metricsPort: metricsConfigSchema.port,
  metricsHost: metricsConfigSchema.host,
});
const logger = createLogger(process.env.CHORUS_PROCESS_NAME ?? "budget");
// Crash-only: anything unexpected ends the process and its supervisor restarts it; the state is rebuilt exactly.
process.on("unhandledRejection", (err) => {
  logger.fatal({ err }, "unhandled rejection; exiting");
  process.exit(1);
});
const metricsServer = await startMetricsServer(config.metricsPort, undefined, config.metricsHost);
const nc = await connectNats({ servers: config.natsUrl, name: "chorus-budget" });
const catalog = await CatalogView.open(await openCatalogBucket(jetstream(nc)));
// Its scoring module is hot-swapped from the module registry like every agent's (voting/scoring/start-agent-scoring.ts).
const scoring = await startAgentScoring([budgetAgent], {
  js: jetstream(nc),
  nc,
  config: loadModuleConfig(),
  actor: process.env.CHORUS_PROCESS_NAME ?? "budget",
  logger,
});
const agent = await runAgent(scoring.modules[0]!, { nc, catalog, logger: logger.child({ agent: "budget" }) });
const serviceOptions = {
  nc,
  catalog,
  state: agent.state as BudgetState,
  logger,
  instanceId: agent.instanceId,
  policy: {
    leaseTtlMs: config.leaseTtlMs,
    reclaimGraceMs: config.graceMs,
    maxLeaseShare: config.leasePpm / 1e6,
    lookaheadShare: config.lookaheadPpm / 1e6,
  },
};
// Several Budget processes may run: one leads (grants leases), the others keep their books for votes and signals
// and take over within the election TTL, rebuilding the book from the ledger, the lease log and receipts first.
const election = loadConfig(leaderElectionConfig);
const role = await new LeaderRole<BudgetService, BudgetService>({
  election: {
    kv: await openLeaderBucket(jetstream(nc), election.ttlMs),
    key: "budget",
    instanceId: agent.instanceId,
    ttlMs: election.ttlMs,
    nc,
  },
  logger,
  standby: () => BudgetService.start({ ...serviceOptions, serve: false }),
  lead: (epoch, isLeader) => BudgetService.start({ ...serviceOptions, leader: { epoch, isLeader } }),
  fence: (service) => service.stopGranting(),
}).start();
onShutdown(async () => {
  await role.stop();
  await agent.stop();
  await scoring.close();
  catalog.close();
  await nc.drain();
  await metricsServer?.close();
});
signalReady({ instance: agent.instanceId, leader: role.isLeader, metricsPort: metricsServer?.port });
logger.info("budget agent ready");
