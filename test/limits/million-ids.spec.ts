/**
 * Bounded memory for per-listener and per-session state: 1,000,000 distinct user and session ids go through the
 * agents' real input handlers (Intent, Timing: playback and impressions), the gateway-side mirror of their signals
 * (restore), the learners' pending-ad memories (Orchestrator, Bidding, Relevance outcomes) and the gateway's
 * per-key structures (rate limiter, request-id idempotency). Every structure stays at or under its configured
 * cap, and the heap after a collection is flat between 250,000 and 1,000,000 ids.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../gateway/auth/rate-limiter.ts";
import { IdempotentDecisions } from "../../gateway/services/idempotent-decisions.ts";
import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import {
  AdEventType,
  DecideResponseSchema,
  PlaybackSignal_ContentStartSchema,
  PlaybackSignal_PositionSchema,
  PlaybackSignalSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import { LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { demoInventory } from "../../lib/demo/demo-inventory.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import { USER_SHARDS } from "../../lib/subjects.ts";
import type { HandlerContext } from "../../voting/contract/agent-module.ts";
import { intentAgent } from "../../voting/intent/agent.ts";
import { createIntentState, restoreIntent, snapshotIntent } from "../../voting/intent/state.ts";
import { withLimits } from "../../voting/limits/state-limits.ts";
import { orchestratorAgent } from "../../voting/orchestrator/agent.ts";
import { timingAgent } from "../../voting/timing/agent.ts";
import { createTimingState, pruneSessions, restoreTiming, snapshotTiming } from "../../voting/timing/state.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const N = 1_000_000;
const limits = withLimits({ maxProfiles: 20_000, maxSessions: 20_000, maxCappedCampaigns: 8 });
const inventory = demoInventory();
/** The server's clock as the handlers see it: one second per 1,000 messages. */
let serverNow = Date.UTC(2026, 0, 1, 12);
const ctx: HandlerContext = {
  get nowMs() {
    return serverNow;
  },
  inventory: () => inventory,
  owns: () => true,
};

describe("per-listener state under 1,000,000 distinct ids", () => {
  it("Intent and Timing (agent and gateway mirror) stay under their caps; the heap is flat", () => {
    const intent = createIntentState(limits);
    const timing = createTimingState(limits);
    const intentMirror = createIntentState(limits);
    const timingMirror = createTimingState(limits);
    const [intentPlayback, intentImpression] = intentAgent.inputs;
    const [timingPlayback] = timingAgent.inputs;
    // A client clock far in the future must not keep anything alive.
    const clientAt = timestampFromMs(serverNow + 365 * 86_400_000);
    const signals = [
      create(PlaybackSignalSchema, {
        at: clientAt,
        kind: {
          case: "contentStart",
          value: create(PlaybackSignal_ContentStartSchema, { genre: "pop", moodTags: ["happy"], durationMs: 200_000 }),
        },
      }),
      create(PlaybackSignalSchema, {
        at: clientAt,
        kind: { case: "position", value: create(PlaybackSignal_PositionSchema, { positionMs: 1_000 }) },
      }),
    ];
    const impression = create(LedgerEntrySchema, {
      campaignId: "c0",
      event: { type: AdEventType.IMPRESSION, occurredAt: clientAt },
    });
    let heapAt250k = 0;
    const peaks = { profiles: 0, sessions: 0, dirty: 0, impressions: 0 };
    const started = performance.now();
    for (let i = 0; i < N; i++) {
      const userId = `user-${i}`;
      // Most signals are positions; every 16th a new track (the costlier path: taste and intent vector).
      const signal = signals[i % 16 === 0 ? 0 : 1]!;
      signal.userId = userId;
      signal.sessionId = `session-${i}`;
      intentPlayback!.handle(intent, signal as never, ctx);
      timingPlayback!.handle(timing, signal as never, ctx);
      if (i % 4 === 0) {
        impression.userId = userId;
        impression.campaignId = `c${(i >> 2) % 16}`;
        intentImpression!.handle(intent, impression as never, ctx);
        // The same listener sees many campaigns: the per-profile history stays within its cap too.
        if (i === N - 4)
          for (let c = 0; c < 50; c++) {
            impression.campaignId = `burst-${c}`;
            intentImpression!.handle(intent, impression as never, ctx);
          }
      }
      if (i % 1000 === 999) serverNow += 1_000;
      // What the runtime does every signal interval: publish the deltas, which every gateway mirror restores.
      if (i % 5_000 === 4_999) {
        for (let shard = 0; shard < USER_SHARDS; shard++) {
          peaks.dirty = Math.max(peaks.dirty, intent.dirty.get(String(shard))?.size ?? 0);
          restoreIntent(intentMirror, String(shard), snapshotIntent(intent, String(shard), "delta"));
          restoreTiming(timingMirror, String(shard), snapshotTiming(timing, String(shard), "delta"));
        }
        peaks.profiles = Math.max(peaks.profiles, intent.profiles.size, intentMirror.profiles.size);
        peaks.sessions = Math.max(peaks.sessions, timing.sessions.size, timingMirror.sessions.size);
      }
      if (i === 250_000) heapAt250k = heapAfterGc();
    }
    const seconds = (performance.now() - started) / 1000;
    const heapAt1M = heapAfterGc();
    for (const p of intent.profiles.values()) peaks.impressions = Math.max(peaks.impressions, p.impressions.length);
    console.log(
      `1M ids in ${seconds.toFixed(1)} s; peaks ${JSON.stringify(peaks)}; heap ${(heapAt250k / 2 ** 20).toFixed(0)} MiB at 250k, ${(heapAt1M / 2 ** 20).toFixed(0)} MiB at 1M`,
    );
    expect(peaks.profiles).toBeLessThanOrEqual(limits.maxProfiles);
    expect(peaks.profiles).toBeGreaterThan(limits.maxProfiles * 0.9);
    expect(peaks.sessions).toBeLessThanOrEqual(limits.maxSessions);
    expect(peaks.sessions).toBeGreaterThan(limits.maxSessions * 0.9);
    expect(peaks.dirty).toBeLessThanOrEqual(limits.maxProfiles);
    expect(peaks.impressions).toBe(limits.maxCappedCampaigns);
    // The most recent ids are the ones kept (LRU), and their times are the server's.
    expect(intent.profiles.has(`user-${N - 1}`)).toBe(true);
    expect(intent.profiles.has("user-0")).toBe(false);
    const last = intent.profiles.get(`user-${N - 1}`)!;
    expect(Number(last.lastSeenMs)).toBeLessThanOrEqual(serverNow);
    expect(Number(last.lastSeenMs)).toBeGreaterThan(serverNow - 2_000);
    expect(
      Number(
        intent.profiles
          .get(`user-${N - 4}`)!
          .impressions.at(-1)!
          .atMs.at(-1),
      ),
    ).toBeLessThanOrEqual(serverNow);
    expect(Number(timing.sessions.get(`session-${N - 1}`)!.lastSeenMs)).toBeGreaterThan(serverNow - 2_000);
    // Flat: everything past the caps is garbage (10% slack for the allocator's noise).
    expect(heapAt1M).toBeLessThan(heapAt250k * 1.1);

    // Idle TTL on the server's clock: two hours of silence on the server drops every session and the client's
    // far-future timestamps keep none alive.
    expect(pruneSessions(timing, serverNow + limits.sessionIdleMs + 1).length).toBeGreaterThan(0);
    expect(timing.sessions.size).toBe(0);
    expect(intentAgent.tick!(intent, serverNow + limits.profileIdleMs + 1)).toBeDefined();
    expect(intent.profiles.size).toBe(0);
  }, 600_000);

  it("the learners' pending ads and the gateway's per-key maps stay under their caps", async () => {
    const orchestrator = orchestratorAgent.createState();
    const [onOutcome] = orchestratorAgent.inputs;
    const limiter = new RateLimiter(() => serverNow, 10_000);
    const idempotency = new IdempotentDecisions({ maxEntries: 20_000, clock: () => serverNow });
    const outcome = create(AuctionOutcomeSchema, {
      request: demoRequest(),
      agents: ["intent", "relevance"],
      entries: [{ creativeId: inventory.candidates[0]!.creative.id, won: true, contributions: [1, 2] }],
    });
    const response = create(DecideResponseSchema);
    let maxShares = 0;
    for (let i = 0; i < N; i++) {
      outcome.decisionId = `d-${i}`;
      onOutcome!.handle(orchestrator, outcome as never, ctx);
      limiter.take(`key-${i}`, { perSecond: 10, burst: 10 });
      void idempotency.run(`key-${i}`, `request-${i}`, async () => response);
      if (i % 10_000 === 0) {
        maxShares = Math.max(maxShares, orchestrator.shares.size);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    maxShares = Math.max(maxShares, orchestrator.shares.size);
    expect(maxShares).toBeLessThanOrEqual(withLimits({}).maxPendingAds);
    expect(maxShares).toBeGreaterThan(withLimits({}).maxPendingAds * 0.9);
    expect(limiter.size).toBeLessThanOrEqual(10_000);
    expect(idempotency.size).toBeLessThanOrEqual(20_000);
  }, 600_000);
});
