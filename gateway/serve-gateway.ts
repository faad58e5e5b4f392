import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { DEFAULT_EVENT_LIMITS, duplicateWindowFor } from "../ledger/event-rules.ts";
import { createEventSink } from "../ledger/event-sink.ts";
import { checkLedgerStreams } from "../ledger/ledger-streams.ts";
import { ReceiptStore } from "../ledger/receipt-store.ts";
import { createSpendGuard } from "../ledger/spend-guard.ts";
import { CatalogStore, openCatalogBucket } from "../lib/catalog/catalog-store.ts";
import { CatalogView } from "../lib/catalog/catalog-view.ts";
import { loadConfig, parsers } from "../lib/config/config.ts";
import { createLogger } from "../lib/log/logger.ts";
import { connectNats } from "../lib/nats/connect.ts";
import { pseudonymsFromEnv } from "../lib/privacy/pseudonym-key.ts";
import { onShutdown, signalReady } from "../lib/process/child-lifecycle.ts";
import { repoRoot } from "../lib/process/launcher.ts";
import { loadModuleConfig } from "../modules/module-config.ts";
import { startKernelModules } from "../modules/start-kernel-modules.ts";
import { DecisionLog, loadDecisionLogConfig } from "../telemetry/decision-log.ts";
import { metricsConfigSchema, processMetrics, startMetricsServer } from "../telemetry/metrics.ts";
import { setupTracing } from "../telemetry/tracing.ts";
import { agentLoaders, loadAgents } from "../voting/registry/agent-loaders.ts";
import { startAgentScoring } from "../voting/registry/start-agent-scoring.ts";
import { authConfig, openGatewayAuth } from "./auth/gateway-auth.ts";
import {
  createDecisionEngine,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_LOOP_LAG_MS,
  residentInventoriesFor,
} from "./decide/decision-engine.ts";
import { DEFAULT_MAX_CANDIDATES, DEFAULT_SLICE_SETS } from "./decide/retrieval.ts";
import { gatewayConfig } from "./gateway-config.ts";
import { NatsPlaybackSink } from "./playback/nats-playback-sink.ts";
import { answerForgetRequests } from "./services/forget-listeners.ts";
import { IdempotentDecisions } from "./services/idempotent-decisions.ts";
import { startGateway } from "./start-gateway.ts";
import { catalogCreatives } from "./vast/catalog-creatives.ts";

/**
 * One gateway process (gateway/main.ts starts it, or several of them with GATEWAY_PROCESSES): serves Decide from
 * the live catalog, the agents' votes, the WASM kernel (following module rollouts) and the spend leases it holds;
 * several gateways can run side by side (GATEWAY_ID tells them apart in leases).
 */ const name = process.env.CHORUS_PROCESS_NAME ?? "gateway";
/**
 * A host with a core to spare beside the gateway's thread. On two cores or fewer the whole mesh shares them, and the
 * kernel's defaults below (worker or inline, spin or sleep) give the gateway's own thread the CPU instead.
 */
const spareCores = availableParallelism() > 2;

const config = loadConfig({
  ...gatewayConfig,
  ...authConfig,
  metricsPort: metricsConfigSchema.port,
  metricsHost: metricsConfigSchema.host,
  natsUrl: { env: "NATS_URL", default: "", parse: parsers.string, help: "NATS server URL (required)" },
  coordination: {
    env: "CHORUS_COORDINATION",
    default: "cached" as "cached" | "parallel" | "sequential",
    parse: parsers.oneOf("cached", "parallel", "sequential"),
    help: "how votes are gathered: cached (local view of agent signals), parallel (scatter-gather), sequential (baseline)",
  },
  maxDecisionsInFlight: {
    env: "GATEWAY_MAX_DECISIONS_IN_FLIGHT",
    default: DEFAULT_MAX_IN_FLIGHT,
    parse: parsers.int(1, 100_000),
    help: "admission limit: decisions in flight past which new ones get RESOURCE_EXHAUSTED at once, with retry pushback",
  },
  maxLoopLagMs: {
    env: "GATEWAY_MAX_LOOP_LAG_MS",
    // On: a loop this late has already missed every waiting request's time budget; refusing at once (with retry
    // pushback) keeps the backlog from growing into a collapse of timeouts. The test suite sets 0 (vitest.config.ts):
    // its end-to-end meshes on a saturated shared machine stall 0.5-1.1 s from scheduling alone and expect no
    // refusals; the shedding's own tests set it explicitly.
    default: DEFAULT_MAX_LOOP_LAG_MS,
    parse: parsers.int(0, 60_000),
    help: `load shedding: while the event loop stays more than this many ms behind (two late ticks in a row, or one turn four times this long), new decisions get RESOURCE_EXHAUSTED at once (0 = off)`,
  },
  idempotencyMaxBytes: {
    env: "GATEWAY_IDEMPOTENCY_MAX_BYTES",
    default: 16 * 2 ** 20,
    parse: parsers.int(0, 2 ** 31 - 1),
    help: "most bytes of answered decisions kept for request_id idempotency (10 minutes, oldest forgotten first past this)",
  },
  retrievalMaxCandidates: {
    env: "CHORUS_RETRIEVAL_MAX_CANDIDATES",
    default: DEFAULT_MAX_CANDIDATES,
    parse: parsers.int(1, 4_096),
    help: "N: the most candidates one decision votes on (the retrieval stage keeps the best N the request may see)",
  },
  retrievalSlices: {
    env: "CHORUS_RETRIEVAL_SLICES",
    default: DEFAULT_SLICE_SETS,
    parse: parsers.int(1, 65_536),
    help: "distinct candidate sets (retrieval slices) kept, each with the agents' per-slice caches (~200 KB on the demo catalog)",
  },
  deadlineMs: {
    env: "DECIDE_DEADLINE_MS",
    default: 50,
    parse: parsers.int(1, 10_000),
    help: "default time budget of a Decide",
  },
  kernelMode: {
    env: "KERNEL_MODE",
    // Inline runs only the shipped build; a published version always gets workers and its time limit
    // (modules/module-router.ts). On two cores the hand-off to a worker (its wake-up, the loop polling for the
    // result) cost the gateway 10-15% of its CPU per decision (docs/benchmarks.md, twelfth session).
    default: (spareCores ? "pool" : "inline") as "pool" | "inline",
    parse: parsers.oneOf("pool", "inline"),
    help: "run the shipped kernel build in a worker pool or inline (published versions always run in workers); default pool, inline on hosts with 2 or fewer cores",
  },
  kernelWorkers: {
    env: "KERNEL_WORKERS",
    default: 1,
    parse: parsers.int(1, 64),
    help: "kernel worker threads in pool mode",
  },
  kernelSpinMicros: {
    env: "KERNEL_SPIN_US",
    // A spinning worker holds a core: worth ~50 us per decision when a core is spare, but on a host of two or
    // fewer cores it starves the gateway's own thread and the agents (cached p50 at 300/s: 53 ms spinning, 10 ms not).
    default: spareCores ? 1_500 : 0,
    parse: parsers.int(0, 100_000),
    help: "longest an idle kernel worker spins for the next decision (adaptive below it); 0 = sleep at once (less CPU, ~50 us wake-ups); default 1500, 0 on hosts with 2 or fewer cores",
  },
  conversionsPerAd: {
    env: "EVENT_MAX_CONVERSIONS_PER_AD",
    default: 1,
    parse: parsers.int(1, 100),
    help: "conversions counted per decision and creative; later ones are rejected (CONVERSION_LIMIT)",
  },
  maxConversionValueMicros: {
    env: "EVENT_MAX_CONVERSION_VALUE_MICROS",
    default: 1_000_000_000,
    parse: parsers.int(0, Number.MAX_SAFE_INTEGER),
    help: "largest conversion value in micros for campaigns that set no max_conversion_value_micros",
  },
  spoolDir: {
    env: "CHORUS_SPOOL_DIR",
    default: join(repoRoot, ".data", "spool"),
    parse: parsers.string,
    help: "where decision receipts wait (fsync'ed) while NATS is unreachable",
  },
});
const logger = createLogger(name);
// Where a start's time goes (ms per step, "load" = process start to here: module loading and compiling), in the
// ready message and log: a restarted gateway is a gap in serving, and these say what it waited for.
const startup: Record<string, number> = {};
let stepStarted = 0;
const step = (what: string) => {
  const now = performance.now();
  startup[what] = Math.round(now - stepStarted);
  stepStarted = now;
};
step("load");
// Checked before anything connects: without the key no request may be served.
const pseudonyms = pseudonymsFromEnv();
if (!config.natsUrl) {
  logger.fatal("NATS_URL is required, e.g. NATS_URL=nats://127.0.0.1:4222 (npm start runs a private server for you)");
  process.exit(2);
}

if (Boolean(config.tlsCert) !== Boolean(config.tlsKey)) {
  logger.fatal("GATEWAY_TLS_CERT and GATEWAY_TLS_KEY go together: set both or neither");
  process.exit(2);
}

const tracing = setupTracing({ serviceName: "chorus-gateway" });
const nc = await connectNats({ servers: config.natsUrl, name: `chorus-${name}` });
const js = jetstream(nc);
step("nats");
// Keys are loaded before anything is served: a gateway never answers a call it cannot check.
const trust = await openGatewayAuth(js, config);
step("keys");
const catalogBucket = await openCatalogBucket(js);
const catalogView = await CatalogView.open(catalogBucket);
step("catalog");
const kernel = await startKernelModules({
  js,
  nc,
  config: loadModuleConfig(),
  actor: name,
  logger,
  pool: {
    mode: config.kernelMode,
    size: config.kernelWorkers,
    spinMicros: config.kernelSpinMicros,
    residentInventories: residentInventoriesFor(config.maxDecisionsInFlight),
  },
});
step("kernel");
const eventLimits = {
  ...DEFAULT_EVENT_LIMITS,
  conversionsPerAd: config.conversionsPerAd,
  maxConversionValueMicros: BigInt(config.maxConversionValueMicros),
};
// Streams are checked, not trusted (the ledger creates them; a gateway started first waits for them). The events
// stream's duplicate window must cover the time this gateway accepts an event after its decision.
await checkLedgerStreams(await jetstreamManager(nc), {
  waitMs: 60_000,
  minDuplicateWindowMs: duplicateWindowFor(eventLimits),
});
step("ledgerStreams");
// One receipt store for both: events then find the receipts this gateway wrote in memory.
const receipts = await ReceiptStore.open(nc);
// Event tokens name the receipt's stream sequence, so that any gateway finds the receipt of an event.
trust.eventTokens.receiptLocatorOf = (decisionId) => receipts.locatorOf(decisionId);
const spendGuard = await createSpendGuard({
  nc,
  gatewayId: config.gatewayId,
  logger,
  spoolDir: join(config.spoolDir, config.gatewayId),
  receipts,
});
step("spendGuard");
// Ask for leases before the first request rather than on it, and again whenever the catalog changes.
const campaignIds = () => new Set(catalogView.inventory.candidates.map((c) => c.campaign.id));
spendGuard.prefetch(campaignIds());
catalogView.onChange(() => spendGuard.prefetch(campaignIds()));
await waitForAnyLease([...campaignIds()], 5_000);
step("firstLease");
const metrics = processMetrics();
const decisionLog = await DecisionLog.open(nc, js, {
  config: loadDecisionLogConfig(),
  metrics,
  logger,
  gateway: config.gatewayId,
  pseudonymKey: pseudonyms.decisionLogKey(),
});
step("decisionLog");
// The agents the gateway votes with, their scoring modules hot-swapped like the kernel.
const agentScoring = await startAgentScoring(await loadAgents(Object.keys(agentLoaders)), {
  js,
  nc,
  config: loadModuleConfig(),
  actor: name,
  logger,
});
step("agentModules");
const engine = await createDecisionEngine({
  nc,
  catalogView,
  kernel: kernel.router,
  modules: agentScoring.modules,
  coordination: config.coordination,
  spendGuard,
  deadlineMs: config.deadlineMs,
  logger,
  telemetry: { metrics, log: decisionLog },
  retrieval: { maxCandidates: config.retrievalMaxCandidates, setCacheSize: config.retrievalSlices },
  maxInFlight: config.maxDecisionsInFlight,
  maxLoopLagMs: config.maxLoopLagMs,
});
// Erasure: this gateway's mirrors and receipt cache drop a forgotten listener (chorus users forget).
const forgetRequests = answerForgetRequests(nc, { gatewayId: config.gatewayId, engine, receipts, logger });
const gateway = await startGateway({
  host: config.host,
  port: config.port,
  engine,
  events: await createEventSink({
    nc,
    receipts,
    limits: eventLimits,
    maxConversionValue: (id) => catalogView.campaign(id)?.maxConversionValueMicros,
  }),
  playback: new NatsPlaybackSink(nc),
  catalog: new CatalogStore(catalogBucket),
  pseudonyms,
  logger,
  auth: trust.auth,
  apiKeys: trust.apiKeys,
  eventTokens: trust.eventTokens,
  allowHttpCreativeUrls: config.allowHttpCreativeUrls,
  tls: config.tlsCert ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } : undefined,
  limits: {
    maxMessageBytes: config.maxMessageBytes,
    drainTimeoutMs: config.drainTimeoutMs,
    maxConcurrentStreams: config.maxConcurrentStreams,
    maxHeaderListBytes: config.maxHeaderListBytes,
    idleTimeoutMs: config.idleTimeoutMs,
    maxConnections: config.maxConnections,
    streamResetsPerSecond: config.streamResetsPerSecond,
  },
  rpcBounds: {
    deadlineMs: config.rpcDeadlineMs,
    streamMaxMs: config.streamMaxMs,
    streamMaxMessages: config.streamMaxMessages,
    streamPerSecond: config.streamPerSecond,
  },
  publicUrl: config.publicUrl,
  macroStyle: config.vastMacros,
  currency: config.currency,
  fxRates: config.fxRates,
  creatives: catalogCreatives(catalogView),
  metrics,
  idempotency: new IdempotentDecisions({ maxBytes: config.idempotencyMaxBytes }),
});
step("engineAndServer");
const metricsServer = await startMetricsServer(config.metricsPort, metrics.registry, config.metricsHost);

onShutdown(async () => {
  // Health first, so load balancers stop sending; then finish in-flight calls; then the things they used.
  gateway.health.set("NOT_SERVING");
  await gateway.close();
  forgetRequests.unsubscribe();
  engine.close();
  await kernel.close();
  await agentScoring.close();
  catalogView.close();
  trust.close();
  await decisionLog.flush();
  await metricsServer?.close();
  await nc.drain();
  await tracing.shutdown();
});
step("metrics");
signalReady({ url: gateway.url, coordination: config.coordination, startupMs: startup });
logger.info(
  { url: gateway.url, coordination: config.coordination, nats: config.natsUrl, startupMs: startup },
  "gateway ready",
);

async function waitForAnyLease(ids: string[], timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (ids.length > 0 && !ids.some((id) => spendGuard.headroom(id) > 0n) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
  }
}
