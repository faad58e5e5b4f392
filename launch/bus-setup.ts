/**
 * Lays out every Chorus stream, KV bucket and object store, once, as the operator: the one identity allowed to
 * create or change a stream's configuration (lib/nats/permissions.ts). A process that could change a stream could
 * make the server publish for it (`republish`), copy others' data into a stream it reads (`sources`) or undo what
 * exactly-once rests on; so processes only open and check what exists. npm start's launcher calls this before
 * starting any process; on a production server an operator runs `chorus bus setup` (again after an upgrade, or to
 * apply CHORUS_REPLICAS or the DECISION_LOG_* limits).
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { openApiKeyBucket } from "../gateway/auth/api-key-store.ts";
import { ensureLedgerStreams, ensureQuarantineStream, openLedgerBucket } from "../ledger/ledger-streams.ts";
import { openCatalogBucket } from "../lib/catalog/catalog-store.ts";
import { loadConfig } from "../lib/config/config.ts";
import type { NatsConnection } from "../lib/nats/connect.ts";
import { configuredReplicas } from "../lib/nats/jetstream-replicas.ts";
import { leaderElectionConfig, openLeaderBucket } from "../lib/nats/leader-election.ts";
import { ModuleRegistry } from "../modules/module-registry.ts";
import { ensureDecisionStore } from "../telemetry/decision-log.ts";
import { loadDecisionLogConfig } from "../telemetry/decision-log-config.ts";
import { openAgentStateBucket } from "../voting/mirror/agent-state-store.ts";

/**
 * Creates what is missing and brings existing stores to CHORUS_REPLICAS and the DECISION_LOG_* limits, as `env`
 * configures them (the processes' environment). Returns the stores, in order.
 */
export async function setUpBus(nc: NatsConnection, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const replicas = configuredReplicas(env);
  const ttlMs = loadConfig(leaderElectionConfig, env).ttlMs;
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const done: string[] = [];
  const step = async (name: string, run: () => Promise<unknown>) => {
    await run();
    done.push(name);
  };
  await step("CHORUS_EVENTS, CHORUS_RECEIPTS, CHORUS_LEASES", () => ensureLedgerStreams(jsm, { replicas }));
  await step("CHORUS_QUARANTINE", () => ensureQuarantineStream(jsm, replicas));
  await step("KV chorus_ledger", () => openLedgerBucket(jsm, replicas));
  await step("KV chorus_leaders", () => openLeaderBucket(js, ttlMs, replicas));
  await step("KV chorus_catalog", () => openCatalogBucket(js, replicas));
  await step("KV chorus_agent_state", () => openAgentStateBucket(js, replicas));
  await step("KV chorus_api_keys", () => openApiKeyBucket(js, replicas));
  await step("KV chorus_module_state, objects chorus_modules", () => ModuleRegistry.open(js, replicas));
  await step("CHORUS_DECISIONS, objects chorus_decision_inventories", () =>
    ensureDecisionStore(nc, js, loadDecisionLogConfig({ DECISION_LOG_REPLICAS: String(replicas), ...env })),
  );
  return done;
}
