import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/** Auctions in time order, column-wise: what the bidder sees (pCTR) and what the replay hides until it wins. */
export interface AuctionLog {
  clicks: Uint8Array;
  /** Market price (the price a winner pays), in the log's price unit. */
  prices: Uint16Array;
  pctrs: Float64Array;
}

/** Training-period statistics, the only thing strategies may be tuned on. */
export interface TrainingStats {
  impressions: number;
  clicks: number;
  cost: number;
  /** Histogram of market prices in the training days, index = price. */
  priceHistogram: number[];
}

export interface IpinyouDataset {
  dir: string;
  log: AuctionLog;
  training: TrainingStats;
  /** sha256 of the auction log file, to compare with the dataset README. */
  sha256: string;
}

export class DatasetMissingError extends Error {
  override readonly name = "DatasetMissingError";
}

export const IPINYOU_2997 = {
  relativeDir: "../shared/data/ipinyou-2997",
  logFile: "test.theta.txt",
  infoFile: "info.2997.json",
  sha256: "1068befe0006f37affdc8b4b13ea6bcbcca28929233133fca309cebeafdfbde8",
} as const;

/** Parses `click market_price pCTR` lines. */
export function parseAuctionLog(text: string): AuctionLog {
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const log: AuctionLog = {
    clicks: new Uint8Array(lines.length),
    prices: new Uint16Array(lines.length),
    pctrs: new Float64Array(lines.length),
  };
  lines.forEach((line, i) => {
    const [click, price, pctr] = line.trim().split(/\s+/).map(Number);
    if (!(click === 0 || click === 1) || !Number.isInteger(price) || price! < 0 || !(pctr! >= 0 && pctr! <= 1))
      throw new Error(`auction log line ${i + 1}: expected "click price pCTR", got "${line}"`);
    log.clicks[i] = click;
    log.prices[i] = price!;
    log.pctrs[i] = pctr!;
  });
  return log;
}

/** Reads the training statistics of the data set's info file; the test figures it also holds are left out. */
export function parseTrainingStats(json: string): TrainingStats {
  const info = JSON.parse(json) as Record<string, unknown>;
  const { imp_train, clk_train, cost_train, price_counter_train } = info;
  if (typeof imp_train !== "number" || typeof clk_train !== "number" || typeof cost_train !== "number")
    throw new Error("info file: imp_train, clk_train and cost_train must be numbers");
  if (!Array.isArray(price_counter_train) || !price_counter_train.every((c) => typeof c === "number"))
    throw new Error("info file: price_counter_train must be an array of counts");
  return { impressions: imp_train, clicks: clk_train, cost: cost_train, priceHistogram: price_counter_train };
}

export function loadIpinyouDataset(dir: string): IpinyouDataset {
  const logPath = path.join(dir, IPINYOU_2997.logFile);
  const infoPath = path.join(dir, IPINYOU_2997.infoFile);
  for (const file of [logPath, infoPath])
    if (!existsSync(file))
      throw new DatasetMissingError(
        `missing ${file}: the bidding benchmark replays the iPinYou campaign 2997 log from ${IPINYOU_2997.relativeDir} ` +
          "(relative to the repository root), or pass --data <dir>",
      );
  const raw = readFileSync(logPath);
  return {
    dir,
    log: parseAuctionLog(raw.toString("utf8")),
    training: parseTrainingStats(readFileSync(infoPath, "utf8")),
    sha256: createHash("sha256").update(raw).digest("hex"),
  };
}
