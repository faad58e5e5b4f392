import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createLatencyHistogram, recordSince } from "../../bench/lib/latency-histogram.ts";
import { ContentKind } from "../../gen/chorus/v1/common_pb.ts";
import {
  type DecideRequest,
  type DecideResponse,
  NoFillReason,
  type PlaybackSignal,
  PlaybackSignalSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import { adFeatures } from "../../lib/catalog/inventory.ts";
import { embed } from "../../lib/features/feature-space.ts";
import { playedAdEvents } from "./ad-events.ts";
import { askAgainAt } from "./ask-again.ts";
import { breakRequest } from "./break-request.ts";
import { EventQueue } from "./event-queue.ts";
import { makeMarket } from "./market.ts";
import { makeContent, makeListeners } from "./population.ts";
import {
  type AdExposure,
  clickProbability,
  completionProbability,
  dot,
  goalValue,
  intrusivenessAt,
  leaveProbability,
  sigmoid,
} from "./response-model.ts";
import { Rng } from "./rng.ts";
import type { Scenario } from "./scenario.ts";
import { SpendLedger } from "./spend-ledger.ts";
import type { SimClock, Strategy } from "./strategy.ts";
import type { Session, WorldEvent, WorldOptions, WorldOutcome } from "./world-types.ts";

/** Simulated time 0 of strategies in simulated time: a Monday, 06:00 UTC. */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 5, 6);

/**
 * The market simulator's world: a discrete-event simulation of listeners' sessions (tracks, skips, screen on/off,
 * ends), publisher breaks every N minutes of listening, competing demand as a floor price, and ad responses from
 * the hidden model, charged in the world's own books at impression time. The strategy decides every break and
 * hears about impressions late. Seeded: a strategy that answers the same way gets the same world.
 */
export async function runWorld(s: Scenario, strategy: Strategy, options: WorldOptions = {}): Promise<WorldOutcome> {
  // Simulated time 0 is now, or for a realtime strategy a few seconds ahead, so that loading its catalog happens
  // before the first flight starts; its flights and pacing then run on the wall clock from there.
  const startupMs = strategy.realtime ? (options.startupMs ?? 5_000) : 0;
  // Strategies in simulated time get a fixed epoch: their runs replay exactly, time of day included.
  const epochMs = strategy.realtime ? Date.now() + startupMs : SIM_EPOCH_MS;
  const wallStart = performance.now() + startupMs;
  const speedup = strategy.realtime || strategy.compressedClock ? s.speedup : 1;
  // Whole milliseconds: protobuf Timestamps carry integer nanos.
  const clock: SimClock = { toWallMs: (simMs) => Math.round(epochMs + simMs / speedup) };
  const horizonMs = s.horizonMinutes * 60_000;
  const breakEveryMs = s.publisher.breakEveryMinutes * 60_000;
  const rngPopulation = Rng.stream(s.seed, "population");
  const rngListening = Rng.stream(s.seed, "listening");
  const rngAds = Rng.stream(s.seed, "ads");
  const rngMarket = Rng.stream(s.seed, "market");

  const market = makeMarket(s, Rng.stream(s.seed, "catalog"), clock.toWallMs, speedup);
  const listeners = makeListeners(s, rngPopulation);
  const content = makeContent(rngPopulation);
  const music = content.filter((c) => c.kind === ContentKind.MUSIC);
  const podcasts = content.filter((c) => c.kind === ContentKind.PODCAST);
  const campaigns = new Map(market.campaigns.map((c) => [c.id, c]));
  const creatives = new Map(
    market.creatives.map((cr) => [
      cr.id,
      { creative: cr, embedding: embed(adFeatures(campaigns.get(cr.campaignId)!, cr)) },
    ]),
  );
  await strategy.start({
    advertisers: market.advertisers,
    campaigns: market.campaigns,
    creatives: market.creatives,
    clock,
    seed: s.seed,
  });
  const ledger = new SpendLedger(market.campaigns.map((c) => [c.id, c.budgetMicros]));
  const queue = new EventQueue<WorldEvent>();
  const out: WorldOutcome = {
    market,
    ledger,
    insertions: { betweenTracks: 0, atChapterMarker: 0, midTrack: 0 },
    breaks: 0,
    leftAfterBreak: 0,
    opportunities: 0,
    competingAds: 0,
    sessions: 0,
    listeningMs: 0,
    decisionLatency: createLatencyHistogram(),
    decisionErrors: 0,
    eventsGenerated: 0,
    eventsDelivered: 0,
    maxWallLagMs: 0,
    noFill: {},
    unplayedAds: 0,
    staleAnswers: 0,
  };
  let playback: PlaybackSignal[] = [];
  let sessionSeq = 0;
  let eventSeq = 0;

  const signal = (session: Session, at: number, kind: MessageInitShape<typeof PlaybackSignalSchema>["kind"]) =>
    playback.push(
      create(PlaybackSignalSchema, {
        sessionId: session.id,
        userId: session.listener.id,
        at: timestampFromMs(clock.toWallMs(at)),
        consent: { personalizedAds: session.listener.personalizedConsent, measurement: true },
        kind,
      }),
    );
  const flushPlayback = async () => {
    if (playback.length === 0) return;
    const batch = playback;
    playback = [];
    for (let i = 0; i < batch.length; i += 1000) await strategy.reportPlayback(batch.slice(i, i + 1000));
  };

  // Bursts draw from a stream of their own, so that a scenario without them replays the same world as before.
  const rngBursts = Rng.stream(s.seed, "bursts");
  const burstMs = s.listeners.burstMinutes * 60_000;
  const burstStarts =
    s.listeners.burstShare > 0
      ? Array.from({ length: s.listeners.bursts }, () => rngBursts.uniform(0, Math.max(0, horizonMs * 0.9 - burstMs)))
      : [];
  for (const listener of listeners) {
    const n =
      Math.floor(s.listeners.sessionsPerListener) + (rngListening.chance(s.listeners.sessionsPerListener % 1) ? 1 : 0);
    for (let i = 0; i < n; i++) {
      const evenly = rngListening.uniform(0, horizonMs * 0.9);
      const at =
        burstStarts.length > 0 && rngBursts.chance(s.listeners.burstShare)
          ? rngBursts.pick(burstStarts) + rngBursts.uniform(0, burstMs)
          : evenly;
      queue.push(at, { kind: "session-start", listener });
    }
  }

  const position = (session: Session, at: number) => session.startPosition + (at - session.contentStartedAt);

  const startContent = (session: Session, at: number) => {
    const l = session.listener;
    const pool = l.podcastFan ? podcasts : music;
    const favourite = pool.filter((c) => l.favouriteGenres.includes(c.genre));
    const item =
      rngListening.chance(0.75) && favourite.length > 0 ? rngListening.pick(favourite) : rngListening.pick(pool);
    session.content = item;
    session.contentStartedAt = at;
    session.startPosition = 0;
    session.token++;
    session.deferred = undefined;
    signal(session, at, {
      case: "contentStart",
      value: {
        contentKind: item.kind,
        contentId: item.id,
        genre: item.genre,
        moodTags: item.moods,
        durationMs: item.durationMs,
        chapterMarkersMs: item.chapterMarkersMs,
      },
    });
    const affinity = dot(l.taste, item.embedding);
    const skip = rngListening.chance(sigmoid(-1.4 - 3 * affinity));
    const playMs = skip ? rngListening.uniform(5_000, 0.4 * item.durationMs) : item.durationMs;
    queue.push(at + playMs, { kind: "content-end", session, token: session.token, skipped: skip });
    scheduleDue(session, at, playMs);
  };

  /** A mid-content break is due when the listening since the last break reaches the policy's interval. */
  const scheduleDue = (session: Session, at: number, remainingMs: number) => {
    const dueIn = breakEveryMs - session.listenedSinceBreakMs;
    if (dueIn < remainingMs - 1_000)
      queue.push(at + Math.max(0, dueIn), { kind: "break-due", session, token: session.token });
  };

  const endSession = (session: Session, at: number) => {
    if (session.ended) return;
    session.ended = true;
    session.token++;
    out.unplayedAds += session.deferred?.response.ads.length ?? 0;
    signal(session, at, { case: "sessionEnd", value: {} });
  };

  const request = (session: Session, at: number, betweenTracks: boolean): DecideRequest => {
    const requestId = `sim-${s.seed}-${++eventSeq}`;
    const floorCpmMicros = rngMarket.logNormal(s.market.competingCpmMedianMicros, s.market.competingCpmSigma);
    return breakRequest(s, session, {
      requestId,
      floorCpmMicros,
      positionMs: position(session, at),
      at,
      betweenTracks,
    });
  };

  const decide = async (session: Session, at: number, betweenTracks: boolean): Promise<DecideResponse | undefined> => {
    out.opportunities++;
    // Built before the flush's await, while the session is still at `at`.
    const req = request(session, at, betweenTracks);
    await flushPlayback();
    const started = performance.now();
    try {
      const response = await strategy.decide(req, at);
      recordSince(out.decisionLatency, started, performance.now());
      if (response.ads.length === 0) {
        const reason = NoFillReason[response.noFillReason] ?? String(response.noFillReason);
        out.noFill[reason] = (out.noFill[reason] ?? 0) + 1;
      }
      return response;
    } catch {
      out.decisionErrors++;
      return undefined;
    }
  };

  /** Plays a pod at `at`; returns when the pod ends and whether the listener left right after it. */
  const playPod = (session: Session, at: number, response: DecideResponse | undefined, intrusiveness: number) => {
    out.breaks++;
    const l = session.listener;
    const ads = response?.ads ?? [];
    let t = at;
    let bestAffinity = -1;
    if (ads.length === 0) {
      // Competing demand fills the break: the listener hears an ad all the same.
      out.competingAds++;
      t += 30_000;
      bestAffinity = 0;
    }
    for (const ad of ads) {
      const known = creatives.get(ad.creativeId);
      const campaign = campaigns.get(ad.campaignId);
      if (!known || !campaign) continue;
      const exposure: AdExposure = {
        affinity: dot(l.taste, known.embedding),
        quality: market.creativeQuality.get(ad.creativeId) ?? 0,
        format: known.creative.format,
        durationMs: known.creative.durationMs,
        intrusiveness,
        adsBefore: session.adsHeard++,
        screenOn: session.screenOn,
      };
      bestAffinity = Math.max(bestAffinity, exposure.affinity);
      const completed = rngAds.chance(completionProbability(exposure));
      const clicked = rngAds.chance(clickProbability(exposure));
      const perGoal = market.valuePerGoalMicros.get(campaign.id) ?? 0;
      const valueMicros = goalValue(campaign.goal, perGoal, exposure, completed, clicked);
      ledger.charge(campaign.id, ad.priceMicros);
      ledger.credit(campaign.id, { completed, clicked, valueMicros });
      const played = completed ? known.creative.durationMs : rngAds.uniform(0.2, 0.9) * known.creative.durationMs;
      const batch = playedAdEvents(
        response!.decisionId,
        ad,
        { startedAt: t, played, completed, clicked },
        {
          nextEventId: () => `ev-${++eventSeq}`,
          toWallMs: clock.toWallMs,
        },
      );
      out.eventsGenerated += batch.length;
      // The player reports an ad's events together once it finished: late by the scenario's delay after the last.
      queue.push(t + played + s.events.minDelayMs + rngAds.exponential(s.events.meanExtraDelayMs), {
        kind: "deliver",
        events: batch,
      });
      if (intrusiveness >= 0.5) out.insertions.midTrack++;
      else if (intrusiveness > 0) out.insertions.atChapterMarker++;
      else out.insertions.betweenTracks++;
      t += played;
    }
    session.listenedSinceBreakMs = 0;
    const left = rngAds.chance(
      leaveProbability({
        intrusiveness,
        ads: Math.max(1, ads.length),
        bestAffinity,
        adsBefore: session.adsHeard,
        tolerance: l.adTolerance,
      }),
    );
    if (left) out.leftAfterBreak++;
    return { endsAt: t, left };
  };

  /**
   * Realtime: while a decision was in flight the session may have ended or moved on (the track ended, another
   * break played); a player drops that late answer rather than acting on a moment that has passed.
   */
  const stale = (session: Session, token: number) => {
    if (session.ended) return true;
    if (session.token === token) return false;
    out.staleAnswers++;
    return true;
  };

  /** A break in the middle of content: now, later in this content, or not at all (the strategy's choice). */
  const midContentBreak = async (session: Session, at: number) => {
    const item = session.content!;
    const pos = position(session, at);
    const token = session.token;
    const response = await decide(session, at, false);
    if (stale(session, token)) return;
    if (response && response.ads.length === 0 && response.noFillReason === NoFillReason.NOT_A_GOOD_MOMENT) {
      // The player asks again at the advised next break (and at the next boundary in any case).
      const again = askAgainAt(response.nextBreakOffsetMs, pos, item.durationMs);
      if (again !== undefined) queue.push(at + (again - pos), { kind: "break-due", session, token: session.token });
      return;
    }
    const offset = response?.ads[0]?.insertionOffsetMs ?? 0;
    if (response && response.ads.length > 0 && offset > pos + 1_000) {
      session.deferred = { response, offsetMs: offset };
      if (offset < item.durationMs - 1_000)
        queue.push(at + (offset - pos), { kind: "deferred-play", session, token: session.token });
      return;
    }
    breakNow(session, at, response, intrusivenessAt(item, pos), false);
  };

  const breakNow = (
    session: Session,
    at: number,
    response: DecideResponse | undefined,
    intrusiveness: number,
    nextContent: boolean,
  ) => {
    const item = session.content!;
    const played = position(session, at);
    session.token++;
    session.deferred = undefined;
    const { endsAt, left } = playPod(session, at, response, intrusiveness);
    if (left) return endSession(session, endsAt);
    if (!nextContent) {
      // Resume the same content after the pod.
      session.startPosition = played;
      session.contentStartedAt = endsAt;
      const remaining = item.durationMs - played;
      queue.push(endsAt + remaining, { kind: "content-end", session, token: session.token, skipped: false });
      scheduleDue(session, endsAt, remaining);
      return;
    }
    queue.push(endsAt, { kind: "resume", session, nextContent: true });
  };

  const onContentEnd = async (session: Session, at: number, skipped: boolean) => {
    const played = position(session, at) - session.startPosition;
    session.listenedSinceBreakMs += played;
    out.listeningMs += played;
    if (skipped) {
      session.recentSkips++;
      signal(session, at, { case: "skip", value: { positionMs: Math.round(position(session, at)) } });
    }
    if (rngListening.chance(1 / s.listeners.meanTracksPerSession)) return endSession(session, at);
    if (session.deferred) return breakNow(session, at, session.deferred.response, 0, true);
    if (session.listenedSinceBreakMs >= 0.75 * breakEveryMs) {
      const token = session.token;
      const response = await decide(session, at, true);
      if (stale(session, token)) return;
      if (response && response.ads.length > 0) return breakNow(session, at, response, 0, true);
      if (session.listenedSinceBreakMs >= breakEveryMs && response?.noFillReason !== NoFillReason.NOT_A_GOOD_MOMENT)
        return breakNow(session, at, response, 0, true);
    }
    startContent(session, at);
  };

  let lastProgress = 0;
  // A realtime strategy is a service: listeners do not wait for each other's decisions, so a break's handling
  // runs concurrently and the clock moves on; in simulated time (monolith) it is awaited, keeping runs exact.
  const inFlight = new Set<Promise<void>>();
  const handle = (work: Promise<void>): Promise<void> | undefined => {
    if (!strategy.realtime) return work;
    const tracked = work.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    return undefined;
  };
  for (;;) {
    const next = queue.pop();
    if (!next) {
      if (inFlight.size === 0) break;
      await Promise.race(inFlight);
      continue;
    }
    const { at, item: ev } = next;
    if (strategy.realtime) {
      const wait = wallStart + at / speedup - performance.now();
      if (wait > 2) await new Promise((r) => setTimeout(r, wait));
      else out.maxWallLagMs = Math.max(out.maxWallLagMs, -wait);
    }
    if (options.onProgress && at - lastProgress > horizonMs / 200) {
      lastProgress = at;
      options.onProgress(Math.min(1, at / horizonMs));
    }
    if (ev.kind === "deliver") {
      out.eventsDelivered += ev.events.length;
      await strategy.reportEvents(ev.events, at);
      continue;
    }
    if (ev.kind === "session-start") {
      const session: Session = {
        id: `session-${++sessionSeq}`,
        listener: ev.listener,
        startedAt: at,
        screenOn: rngListening.chance(0.5),
        ended: false,
        content: undefined,
        contentStartedAt: at,
        startPosition: 0,
        token: 0,
        listenedSinceBreakMs: 0,
        recentSkips: 0,
        adsHeard: 0,
        deferred: undefined,
      };
      out.sessions++;
      signal(session, at, {
        case: "sessionStart",
        value: {
          device: { type: ev.listener.device, screenOn: session.screenOn },
          geo: { country: ev.listener.country },
        },
      });
      queue.push(at + rngListening.exponential(s.listeners.screenToggleMinutes * 60_000), { kind: "screen", session });
      startContent(session, at);
      continue;
    }
    const session = ev.session;
    if (session.ended) continue;
    if (at >= horizonMs) {
      endSession(session, at);
      continue;
    }
    switch (ev.kind) {
      case "screen":
        session.screenOn = !session.screenOn;
        signal(session, at, { case: "screen", value: { screenOn: session.screenOn, foreground: session.screenOn } });
        queue.push(at + rngListening.exponential(s.listeners.screenToggleMinutes * 60_000), {
          kind: "screen",
          session,
        });
        break;
      case "content-end":
        if (ev.token === session.token) await handle(onContentEnd(session, at, ev.skipped));
        break;
      case "break-due":
        if (ev.token === session.token && !session.deferred) await handle(midContentBreak(session, at));
        break;
      case "deferred-play":
        if (ev.token === session.token && session.deferred) {
          const pos = position(session, at);
          breakNow(session, at, session.deferred.response, intrusivenessAt(session.content!, pos), false);
        }
        break;
      case "resume":
        if (ev.nextContent) startContent(session, at);
        break;
    }
  }
  await flushPlayback();
  options.onProgress?.(1);
  return out;
}

export type { InsertionCounts, WorldOptions, WorldOutcome } from "./world-types.ts";
