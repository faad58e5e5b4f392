import { type ConfigOf, loadConfig, parsers } from "../lib/config/config.ts";

export const decisionLogConfigSchema = {
  sampleRate: {
    env: "DECISION_LOG_SAMPLE_RATE",
    // 1%: a full record is ~11 KB; logging every decision would cost more CPU and storage than deciding.
    default: 0.01,
    parse: (raw: string) => {
      const rate = Number(raw);
      if (!(rate >= 0 && rate <= 1)) throw new Error("must be a number from 0 to 1");
      return rate;
    },
    help: "share of decisions recorded, by a hash of the decision id",
  },
  keepNotable: {
    env: "DECISION_LOG_KEEP_NOTABLE",
    default: true,
    parse: parsers.bool,
    help: "also record decisions asked to explain and decisions with a degraded agent (up to DECISION_LOG_NOTABLE_PER_S)",
  },
  notablePerSecond: {
    env: "DECISION_LOG_NOTABLE_PER_S",
    default: 20,
    parse: parsers.int(0, 1_000_000),
    help: "notable (explain, degraded) records kept beyond the sample per second and gateway (bursts up to 1 s)",
  },
  maxAgeSeconds: {
    env: "DECISION_LOG_MAX_AGE_S",
    default: 7 * 24 * 3600,
    parse: parsers.int(1, 366 * 24 * 3600),
    help: "records older than this are removed by the stream",
  },
  maxBytes: {
    env: "DECISION_LOG_MAX_BYTES",
    default: 1024 ** 3,
    parse: parsers.int(1024 * 1024, Number.MAX_SAFE_INTEGER),
    help: "the stream removes its oldest records beyond this size",
  },
  maxPending: {
    env: "DECISION_LOG_MAX_PENDING",
    default: 1000,
    parse: parsers.int(1, 1_000_000),
    help: "records waiting to be published; beyond it records are dropped and counted",
  },
  replicas: {
    env: "DECISION_LOG_REPLICAS",
    // Like every other store unless set on its own (a log may be worth fewer copies than money).
    default: Number(process.env.CHORUS_REPLICAS) || 1,
    parse: parsers.int(1, 5),
    help: "JetStream replicas of the CHORUS_DECISIONS stream",
  },
};

export type DecisionLogConfig = ConfigOf<typeof decisionLogConfigSchema>;

export function loadDecisionLogConfig(env: NodeJS.ProcessEnv = process.env): DecisionLogConfig {
  return loadConfig(decisionLogConfigSchema, env);
}
