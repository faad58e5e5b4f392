import { jetstream } from "@nats-io/jetstream";
import { openCatalogBucket } from "../lib/catalog/catalog-store.ts";
import { CatalogView } from "../lib/catalog/catalog-view.ts";
import { loadConfig, parsers } from "../lib/config/config.ts";
import { createLogger } from "../lib/log/logger.ts";
import { connectNats } from "../lib/nats/connect.ts";
import { onShutdown, signalReady } from "../lib/process/child-lifecycle.ts";
import { loadModuleConfig } from "../modules/module-config.ts";
import { metricsConfigSchema, startMetricsServer } from "../telemetry/metrics.ts";
import { setupTracing } from "../telemetry/tracing.ts";
import { loadAgents } from "../voting/registry/agent-loaders.ts";
import { startAgentScoring } from "../voting/registry/start-agent-scoring.ts";
import { runAgent } from "./runtime/run-agent.ts";
import { assignShards } from "./runtime/shard-assignment.ts";
import { SharedInputs } from "./runtime/shared-inputs.ts";

/**
 * An agent host process: runs one or several agents on one NATS connection and one catalog view.
 *   AGENTS=intent,timing NATS_URL=nats://127.0.0.1:4222 node --import tsx agents/host.ts
 * Scale out by starting more hosts: requests spread over a queue group, per-user state over AGENT_SHARDS
 * (or AGENT_INSTANCE_INDEX / AGENT_INSTANCE_COUNT).
 */
const config = loadConfig({
  natsUrl: { env: "NATS_URL", default: "", parse: parsers.string, help: "NATS server URL (required)" },
  agents: { env: "AGENTS", default: [] as string[], parse: parsers.list, help: "comma-separated agent names" },
  shards: { env: "AGENT_SHARDS", default: "", parse: parsers.string, help: 'user shards owned, e.g. "0-7"' },
  index: { env: "AGENT_INSTANCE_INDEX", default: 0, parse: parsers.int(0, 1023), help: "this instance's index" },
  count: { env: "AGENT_INSTANCE_COUNT", default: 1, parse: parsers.int(1, 1024), help: "instances sharing shards" },
  metricsPort: metricsConfigSchema.port,
  metricsHost: metricsConfigSchema.host,
});
const logger = createLogger(process.env.CHORUS_PROCESS_NAME ?? `agents-${config.agents.join("-")}`);
if (!config.natsUrl || config.agents.length === 0) {
  logger.fatal("NATS_URL and AGENTS are required, e.g. AGENTS=intent,timing NATS_URL=nats://127.0.0.1:4222");
  process.exit(2);
}

const tracing = setupTracing({ serviceName: `chorus-agents-${config.agents.join("-")}` });
const metricsServer = await startMetricsServer(config.metricsPort, undefined, config.metricsHost);
if (config.agents.includes("budget")) {
  logger.fatal("the Budget agent also grants spend leases: run it with agents/budget/budget-main.ts, not in a host");
  process.exit(2);
}
const modules = await loadAgents(config.agents);
const shards = assignShards(config.shards, config.index, config.count);
const nc = await connectNats({ servers: config.natsUrl, name: `chorus-agents-${config.agents.join("-")}` });
const catalog = await CatalogView.open(await openCatalogBucket(jetstream(nc)));
// Scoring modules hot-swapped from the module registry (voting/scoring/start-agent-scoring.ts).
const scoring = await startAgentScoring(modules, {
  js: jetstream(nc),
  nc,
  config: loadModuleConfig(),
  actor: process.env.CHORUS_PROCESS_NAME ?? `agents-${config.agents.join("-")}`,
  logger,
});
// One subscription and one decode per input subject for all the agents of this process (e.g. Bidding and the
// Orchestrator both learn from every AuctionOutcome).
const inputs = new SharedInputs(nc, logger);
const running = await Promise.all(
  scoring.modules.map((module) =>
    runAgent(module, { nc, catalog, shards, inputs, logger: logger.child({ agent: module.name }) }),
  ),
);

onShutdown(async (reason) => {
  logger.info({ reason }, "draining agents");
  await Promise.all(running.map((agent) => agent.stop()));
  await scoring.close();
  catalog.close();
  await nc.drain();
  await metricsServer?.close();
  await tracing.shutdown();
});
signalReady({ agents: config.agents, shards, instances: running.map((a) => a.instanceId) });
logger.info({ agents: config.agents, shards }, "agent host ready");
