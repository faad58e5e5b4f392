import type { Histogram } from "../../bench/lib/latency-histogram.ts";
import type { AdEvent, DecideResponse } from "../../gen/chorus/v1/decision_pb.ts";
import type { Market } from "./market.ts";
import type { ContentItem, Listener } from "./population.ts";
import type { SpendLedger } from "./spend-ledger.ts";

/** The world's records: a listening session, the events of its queue, and what a run reports. */
export interface Session {
  id: string;
  listener: Listener;
  startedAt: number;
  screenOn: boolean;
  ended: boolean;
  content: ContentItem | undefined;
  contentStartedAt: number;
  /** Content position at contentStartedAt (non-zero after resuming from a mid-content break). */
  startPosition: number;
  /** Invalidates events scheduled for earlier content (a skip, an end, a due break). */
  token: number;
  listenedSinceBreakMs: number;
  recentSkips: number;
  adsHeard: number;
  /** A pod the strategy asked to play at a later offset of the current content (e.g. its end). */
  deferred: { response: DecideResponse; offsetMs: number } | undefined;
}

export type WorldEvent =
  | { kind: "session-start"; listener: Listener }
  | { kind: "content-end"; session: Session; token: number; skipped: boolean }
  | { kind: "break-due"; session: Session; token: number }
  | { kind: "deferred-play"; session: Session; token: number }
  | { kind: "screen"; session: Session }
  | { kind: "resume"; session: Session; nextContent: boolean }
  | { kind: "deliver"; events: AdEvent[] };

/** Where ads were inserted: the intrusiveness classes of the response model. */
export interface InsertionCounts {
  betweenTracks: number;
  atChapterMarker: number;
  midTrack: number;
}

export interface WorldOutcome {
  market: Market;
  ledger: SpendLedger;
  insertions: InsertionCounts;
  breaks: number;
  /** Breaks after which the listener ended the session at once. */
  leftAfterBreak: number;
  opportunities: number;
  competingAds: number;
  sessions: number;
  listeningMs: number;
  decisionLatency: Histogram;
  decisionErrors: number;
  eventsGenerated: number;
  eventsDelivered: number;
  /** Decisions without ads, by the strategy's NoFillReason. */
  noFill: Record<string, number>;
  /** Ads sold for a later offset that never played (the session ended first): sold, never impressed. */
  unplayedAds: number;
  /** Realtime strategies: answers that came back after their session had moved on, dropped as a player would. */
  staleAnswers: number;
  /** Realtime strategies: how far (wall ms) the world fell behind its schedule at worst (0 = kept real time). */
  maxWallLagMs: number;
}

export interface WorldOptions {
  onProgress?: (fraction: number) => void;
  /** Realtime strategies: wall time between building the catalog and simulated time 0 (loading it). Default 5 s. */
  startupMs?: number;
}
