import { type ConfigOf, loadConfig, parsers } from "../lib/config/config.ts";

const rate = (raw: string) => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new Error("must be a number in (0, 1]");
  return n;
};

/** Settings of module verification, routing and automatic rollback, shared by the gateway, agents and the CLI. */
export const moduleConfigSchema = {
  trustedKeysFile: {
    env: "CHORUS_TRUSTED_KEYS",
    default: "",
    parse: parsers.string,
    help: "file of trusted ed25519 public keys (PEM blocks or base64 raw keys, one per line); empty trusts nothing",
  },
  trustedKeysPollMs: {
    env: "CHORUS_TRUSTED_KEYS_POLL_MS",
    default: 2_000,
    parse: parsers.int(100, 3_600_000),
    help:
      "how often a running process looks at its trusted-keys file: a key added (or an expiry set) takes effect " +
      "without a restart",
  },
  signaturesRequired: {
    env: "CHORUS_MODULE_SIGNATURES_REQUIRED",
    default: 1,
    parse: parsers.int(1, 16),
    help:
      "distinct trusted keys that must sign a module version (chorus modules cosign) before it may be activated, " +
      "canaried, shadowed or loaded: the N of an N-of-M rule over the trusted keys",
  },
  selfTestBudgetMs: {
    env: "CHORUS_MODULE_SELF_TEST_MS",
    default: 2_000,
    parse: parsers.int(10, 60_000),
    help: "time budget of a module's self-test on the golden inputs, in ms",
  },
  maxMemoryMb: {
    env: "CHORUS_MODULE_MAX_MEMORY_MB",
    default: 256,
    parse: parsers.int(0, 4_096),
    help:
      "refuse modules of every kind whose declared memory maximum exceeds this (or that declare none); " +
      "the shipped builds declare 256 MiB (kernel) and 64 MiB (agents); 0 = not enforced",
  },
  callTimeoutMs: {
    env: "CHORUS_MODULE_CALL_TIMEOUT_MS",
    default: 250,
    parse: parsers.int(1, 60_000),
    help: "time limit of one kernel call of a canary, shadow or newly activated module, in ms",
  },
  agentCallTimeoutMs: {
    env: "CHORUS_AGENT_MODULE_CALL_TIMEOUT_MS",
    default: 20,
    parse: parsers.int(1, 10_000),
    help: "time limit of one agent scoring module call, in ms (the caller waits for it: keep it small)",
  },
  agentMaxMemoryMb: {
    env: "CHORUS_AGENT_MODULE_MAX_MEMORY_MB",
    default: 64,
    parse: parsers.int(1, 4_096),
    help: "an agent scoring module whose memory grows past this fails the call, and its worker is replaced",
  },
  rollbackErrorRate: {
    env: "CHORUS_MODULE_ROLLBACK_ERROR_RATE",
    default: 0.05,
    parse: rate,
    help: "share of failed calls (traps, timeouts, lost workers) of a new module that triggers its rollback",
  },
  rollbackMinCalls: {
    env: "CHORUS_MODULE_ROLLBACK_MIN_CALLS",
    default: 20,
    parse: parsers.int(1, 1_000_000),
    help: "calls a new module must have served before its error rate is judged",
  },
  rollbackWindow: {
    env: "CHORUS_MODULE_ROLLBACK_WINDOW",
    default: 200,
    parse: parsers.int(1, 1_000_000),
    help: "number of most recent calls the error rate is computed over",
  },
  probationMs: {
    env: "CHORUS_MODULE_PROBATION_MS",
    default: 300_000,
    parse: parsers.int(0, 86_400_000),
    help:
      "probation time of a new version (active, canary, shadow): one failure in it rolls the version back; " +
      "an activation's previous version stays loaded as fallback for as long",
  },
  probationCalls: {
    env: "CHORUS_MODULE_PROBATION_CALLS",
    default: 1_000,
    parse: parsers.int(0, 100_000_000),
    help: "probation calls of a new version (counted across processes): one failure in them rolls it back",
  },
  hangLimit: {
    env: "CHORUS_MODULE_HANG_LIMIT",
    default: 3,
    parse: parsers.int(1, 1_000_000),
    help: "timeouts of one version within CHORUS_MODULE_HANG_WINDOW_MS (across processes) that roll it back",
  },
  hangWindowMs: {
    env: "CHORUS_MODULE_HANG_WINDOW_MS",
    default: 3_600_000,
    parse: parsers.int(1_000, 604_800_000),
    help: "window of the hang rule, in ms (never reset by a worker replacement or a restart)",
  },
  healthFlushMs: {
    env: "CHORUS_MODULE_HEALTH_FLUSH_MS",
    default: 1_000,
    parse: parsers.int(50, 60_000),
    help: "how often each process merges its per-version call and hang counts into the shared record",
  },
  shadowMaxInFlight: {
    env: "CHORUS_MODULE_SHADOW_MAX_IN_FLIGHT",
    default: 4,
    parse: parsers.int(1, 1_024),
    help: "shadow calls running at once; decisions beyond it are not shadowed (counted as skipped)",
  },
  reportIntervalMs: {
    env: "CHORUS_MODULE_REPORT_INTERVAL_MS",
    default: 5_000,
    parse: parsers.int(100, 3_600_000),
    help: "how often each process writes its rollout report (chorus modules report), in ms",
  },
};

export type ModuleConfig = ConfigOf<typeof moduleConfigSchema>;

export function loadModuleConfig(env: NodeJS.ProcessEnv = process.env): ModuleConfig {
  return loadConfig(moduleConfigSchema, env);
}
