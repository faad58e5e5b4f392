/** Published results on iPinYou campaign 2997 with N = 1,000 (dataset README: the RLB paper's public results). */
export interface PublishedFigure {
  clicks: number;
  impressions?: number;
  cost?: number;
}

export const PUBLISHED_EPISODE_SIZE = 1000;

export const PUBLISHED_RESULTS: Record<string, Record<string, PublishedFigure>> = {
  "1/32": {
    Mcpc: { clicks: 48, impressions: 14_752, cost: 307_751 },
    Lin: { clicks: 71, impressions: 32_208, cost: 203_610 },
    RLB: { clicks: 78, impressions: 39_680, cost: 304_375 },
    "SS-MDP": { clicks: 80, impressions: 40_395, cost: 306_637 },
  },
  "1/16": { Mcpc: { clicks: 82 } },
  "1/8": { Mcpc: { clicks: 144 } },
  "1/4": { Mcpc: { clicks: 244 } },
  "1/2": { Mcpc: { clicks: 254 } },
};

/** "1/32" for 0.03125, else the number as written. */
export function budgetFractionLabel(c0: number): string {
  const inverse = 1 / c0;
  return Number.isInteger(inverse) ? `1/${inverse}` : String(c0);
}

/** Parses "1/32" or "0.03125". */
export function parseBudgetFraction(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)\s*$/.exec(text);
  const value = match ? Number(match[1]) / Number(match[2]) : Number(text);
  if (!(value > 0) || !Number.isFinite(value)) throw new Error(`not a budget fraction: "${text}"`);
  return value;
}
