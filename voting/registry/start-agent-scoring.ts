/**
 * Hot-swapped scoring for every agent a process votes with (the gateway in every coordination mode, an agent
 * host for its own agents): per agent with a scoring module, a ModuleWatcher on `agent-<name>`, an AgentScorer
 * on the shipped build, applied state and followed changes, automatic rollbacks written as `actor`, periodic
 * reports. The agents come back wrapped: same module, `vote` scored by the scorer (see scoringOf for the version
 * and failure of each vote).
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../../lib/log/logger.ts";
import { KeyRevocations } from "../../modules/key-revocations.ts";
import type { ModuleConfig } from "../../modules/module-config.ts";
import { ModuleRegistry } from "../../modules/module-registry.ts";
import { reportPeriodically, toModuleReport } from "../../modules/module-report.ts";
import { ModuleVerifier } from "../../modules/module-verifier.ts";
import { ModuleWatcher } from "../../modules/module-watcher.ts";
import { rollbackOverNats } from "../../modules/rollback-requests.ts";
import { followTrustedKeys } from "../../modules/trusted-keys-file.ts";
import { VersionHealth } from "../../modules/version-health.ts";
import {
  AGENT_SCORING_ABI_VERSION,
  isScoringAgent,
  readAgentScoringWasm,
  type ScoringAgent,
} from "../../wasm-core/src/agent-scoring-abi.ts";
import type { AnyAgentModule } from "../contract/agent-module.ts";
import { AgentScorer } from "../scoring/agent-scorer.ts";
import { AGENT_SCORINGS, agentModuleName } from "./agent-scorings.ts";
import { moduleKinds } from "./module-kinds.ts";

export interface AgentScoringOptions {
  js: JetStreamClient;
  /** Where automatic rollbacks are requested from the rollout steward (modules/rollback-requests.ts). */
  nc: NatsConnection;
  config: ModuleConfig;
  /** Process name: the actor of automatic rollbacks and the name of its reports. */
  actor: string;
  logger: Logger;
  /** Defaults to the keys in config.trustedKeysFile. */
  verifier?: ModuleVerifier;
  /** See AgentScorerOptions.inlineShippedBuild (benchmarks: the cost of published versions, in workers). */
  inlineShippedBuild?: boolean;
}

export interface AgentScoring {
  /** The modules, those with a scoring module wrapped. */
  readonly modules: AnyAgentModule[];
  readonly scorers: ReadonlyMap<string, AgentScorer>;
  readonly watchers: ReadonlyMap<string, ModuleWatcher>;
  close(): Promise<void>;
}

/** The shipped build's version: what a response names before any rollout. */
export const BUILTIN_SCORING_VERSION = `builtin-abi${AGENT_SCORING_ABI_VERSION}`;

export async function startAgentScoring(
  modules: readonly AnyAgentModule[],
  options: AgentScoringOptions,
): Promise<AgentScoring> {
  const { config, actor, logger } = options;
  const scored = modules.filter((m) => isScoringAgent(m.name));
  if (scored.length === 0) return { modules: [...modules], scorers: new Map(), watchers: new Map(), async close() {} };
  const registry = await ModuleRegistry.open(options.js);
  const verifier = options.verifier ?? ModuleVerifier.fromConfig(config, moduleKinds());
  const scorers = new Map<string, AgentScorer>();
  const watchers = new Map<string, ModuleWatcher>();
  const revocations = await KeyRevocations.open(registry.states, logger);
  const stops: (() => void)[] = [() => revocations.stop()];
  for (const module of scored) {
    const agent = module.name as ScoringAgent;
    const name = agentModuleName(agent);
    const log = logger.child({ component: "agent-scoring", agent });
    // Only the operator side writes module state: the rollout steward applies it (modules/rollback-requests.ts).
    const rollback = rollbackOverNats(options.nc, name, actor);
    const scorer = await AgentScorer.start(AGENT_SCORINGS[agent], {
      initial: { version: BUILTIN_SCORING_VERSION, bytes: readAgentScoringWasm(agent) },
      builtinVersion: module.version,
      inlineShippedBuild: options.inlineShippedBuild,
      config,
      rollback,
      health: new VersionHealth(registry.states, name, log, config.healthFlushMs),
      logger: log,
    });
    const watcher = new ModuleWatcher(registry, verifier, name, log, { revocations, rollback });
    watcher.onChange((view) => scorer.apply(view));
    await scorer.apply(await watcher.start());
    stops.push(
      reportPeriodically(
        registry,
        () => toModuleReport(actor, name, scorer.stats(), watcher.view?.refused),
        config.reportIntervalMs,
        log,
      ),
    );
    scorers.set(module.name, scorer);
    watchers.set(module.name, watcher);
  }
  // Keys added to (or expiries set in) the trusted-keys file apply without a restart; a given verifier is the caller's.
  if (!options.verifier)
    stops.push(
      followTrustedKeys(
        config.trustedKeysFile,
        [verifier],
        () => {
          for (const watcher of watchers.values()) watcher.recheck();
        },
        logger,
        config.trustedKeysPollMs,
      ),
    );
  return {
    modules: modules.map((m) => {
      const scorer = scorers.get(m.name);
      return scorer ? { ...m, vote: (ctx, state) => scorer.vote(ctx, state) } : m;
    }),
    scorers,
    watchers,
    async close() {
      for (const stop of stops) stop();
      for (const w of watchers.values()) w.stop();
      await Promise.all([...scorers.values()].map((s) => s.close()));
    },
  };
}
