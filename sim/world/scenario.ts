import { readFileSync } from "node:fs";

/**
 * A simulation scenario: everything that shapes the world, so anyone can run other markets. Loaded from JSON;
 * missing fields take the defaults below, unknown or invalid fields are errors naming the field.
 */
export interface Scenario {
  name: string;
  seed: number;
  /** Simulated time span of the run. */
  horizonMinutes: number;
  listeners: {
    count: number;
    /** Expected sessions per listener over the horizon. */
    sessionsPerListener: number;
    /** Mean tracks (or episodes) per session before the listener stops on their own. */
    meanTracksPerSession: number;
    podcastShare: number;
    /** Mean minutes between screen on/off changes. */
    screenToggleMinutes: number;
    /** Share of sessions that start in bursts (a live event, a push notification) instead of spread evenly. */
    burstShare: number;
    /** How many bursts, each `burstMinutes` wide, at seeded times within the horizon. */
    bursts: number;
    burstMinutes: number;
  };
  publisher: {
    /** The ad-load policy: a break is due after this much listening since the last one. */
    breakEveryMinutes: number;
    maxAdsPerBreak: number;
    maxBreakMs: number;
  };
  market: {
    advertisers: number;
    campaignsPerAdvertiser: number;
    /** Total budget as a share of what the expected supply would cost at the campaigns' max bids. */
    budgetTightness: number;
    /** Competing demand: a log-normal CPM (micros per 1000 impressions) every break must beat. */
    competingCpmMedianMicros: number;
    competingCpmSigma: number;
  };
  events: {
    /** Impression events reach the strategy this late (simulated ms): fixed part + exponential part. */
    minDelayMs: number;
    meanExtraDelayMs: number;
  };
  /** `chorus` only: how much faster than real time the simulated clock runs. */
  speedup: number;
}

export const DEFAULT_SCENARIO: Scenario = {
  name: "default",
  seed: 1,
  horizonMinutes: 180,
  listeners: {
    count: 1000,
    sessionsPerListener: 1.5,
    meanTracksPerSession: 10,
    podcastShare: 0.2,
    screenToggleMinutes: 4,
    burstShare: 0,
    bursts: 3,
    burstMinutes: 10,
  },
  publisher: { breakEveryMinutes: 8, maxAdsPerBreak: 2, maxBreakMs: 60_000 },
  market: {
    advertisers: 12,
    campaignsPerAdvertiser: 3,
    budgetTightness: 0.3,
    competingCpmMedianMicros: 6_000_000,
    competingCpmSigma: 0.5,
  },
  events: { minDelayMs: 20_000, meanExtraDelayMs: 90_000 },
  // What the mesh on a busy 2-core machine follows (~26 decide calls/s at the default scale; see docs/benchmarks.md).
  speedup: 30,
};

export class ScenarioError extends Error {
  override readonly name = "ScenarioError";
}

/** Merges `raw` over the defaults, checking every field's type and range. */
export function parseScenario(raw: unknown, source = "scenario"): Scenario {
  const problems: string[] = [];
  const merge = (defaults: Record<string, unknown>, value: unknown, path: string): Record<string, unknown> => {
    if (value === undefined) return defaults;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      problems.push(`${path || "scenario"} must be an object`);
      return defaults;
    }
    const out: Record<string, unknown> = { ...defaults };
    for (const [key, v] of Object.entries(value)) {
      const field = path ? `${path}.${key}` : key;
      const d = defaults[key];
      if (d === undefined) problems.push(`${field} is not a scenario field`);
      else if (typeof d === "object") out[key] = merge(d as Record<string, unknown>, v, field);
      else if (typeof v !== typeof d) problems.push(`${field} must be a ${typeof d}`);
      else if (typeof v === "number" && !(Number.isFinite(v) && v >= 0)) problems.push(`${field} must be >= 0`);
      else out[key] = v;
    }
    return out;
  };
  const scenario = merge(DEFAULT_SCENARIO as unknown as Record<string, unknown>, raw, "") as unknown as Scenario;
  const positive: [string, number][] = [
    ["horizonMinutes", scenario.horizonMinutes],
    ["listeners.count", scenario.listeners.count],
    ["listeners.meanTracksPerSession", scenario.listeners.meanTracksPerSession],
    ["publisher.breakEveryMinutes", scenario.publisher.breakEveryMinutes],
    ["publisher.maxAdsPerBreak", scenario.publisher.maxAdsPerBreak],
    ["market.advertisers", scenario.market.advertisers],
    ["market.campaignsPerAdvertiser", scenario.market.campaignsPerAdvertiser],
    ["speedup", scenario.speedup],
  ];
  for (const [field, v] of positive) if (!(v > 0)) problems.push(`${field} must be > 0`);
  if (scenario.listeners.podcastShare > 1) problems.push("listeners.podcastShare must be <= 1");
  if (scenario.listeners.burstShare > 1) problems.push("listeners.burstShare must be <= 1");
  if (scenario.listeners.burstShare > 0 && !(scenario.listeners.bursts >= 1 && scenario.listeners.burstMinutes > 0))
    problems.push("listeners.bursts must be >= 1 and listeners.burstMinutes > 0 when listeners.burstShare > 0");
  if (problems.length > 0) throw new ScenarioError(`${source}: ${problems.join("; ")}`);
  return scenario;
}

export function loadScenario(path: string): Scenario {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ScenarioError(`${path}: ${(err as Error).message}`);
  }
  return parseScenario(raw, path);
}
