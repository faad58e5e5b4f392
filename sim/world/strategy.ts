import type { Advertiser, Campaign, Creative } from "../../gen/chorus/v1/campaign_pb.ts";
import type { AdEvent, DecideRequest, DecideResponse, PlaybackSignal } from "../../gen/chorus/v1/decision_pb.ts";

/** How a strategy reads simulated time: the timestamps in events, signals and the catalog come from it. */
export interface SimClock {
  toWallMs(simMs: number): number;
}

export interface StrategySetup {
  advertisers: readonly Advertiser[];
  campaigns: readonly Campaign[];
  creatives: readonly Creative[];
  clock: SimClock;
  /** The world's seed: a strategy with randomness of its own seeds it from this, so a run replays exactly. */
  seed: number;
}

/**
 * An ad decision strategy under test. It sees exactly what a real ad server sees, through Chorus's public
 * contract: the catalog, decide requests, playback signals as they happen, and ad events (late). Never the hidden
 * response model.
 */
export interface Strategy {
  readonly name: string;
  /**
   * True when the strategy is a real service living in wall time (its pacing and flights follow the wall clock):
   * the world then runs simulated time at scenario.speedup x wall time.
   */
  readonly realtime: boolean;
  /**
   * True when the strategy's clock (catalog flights, event and signal timestamps) runs at scenario.speedup x
   * simulated time, as the wall-clock mesh's does: a virtual-time Chorus then sees the very time constants (lease
   * TTLs, ticks, windows) the mesh sees. Realtime strategies are always compressed.
   */
  readonly compressedClock?: boolean;
  /** Starts what the strategy runs on (e.g. the mesh), before the world's clock starts. */
  launch(): Promise<void>;
  /** Receives the world's catalog and clock; the clock is running. */
  start(setup: StrategySetup): Promise<void>;
  decide(request: DecideRequest, atSimMs: number): Promise<DecideResponse>;
  reportPlayback(signals: readonly PlaybackSignal[]): Promise<void>;
  /** Ad events, delivered late; `atSimMs` is when they reach the strategy. */
  reportEvents(events: readonly AdEvent[], atSimMs: number): Promise<void>;
  stop(): Promise<void>;
}
