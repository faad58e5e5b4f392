import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import type { Creative } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat, BreakKind } from "../../gen/chorus/v1/common_pb.ts";
import {
  type DecideRequest,
  type DecideResponse,
  DecideResponseSchema,
  NoFillReason,
} from "../../gen/chorus/v1/decision_pb.ts";
import { adviseBreak } from "../../voting/timing/advise-break.ts";
import { askAgainAt, END_MARGIN_MS, FALLBACK_RETRY_MS } from "./ask-again.ts";
import { parseScenario } from "./scenario.ts";
import type { Strategy, StrategySetup } from "./strategy.ts";
import { runWorld } from "./world.ts";

describe("ask again", () => {
  it("ask again - at the advised chapter marker, not a fixed interval later", () => {
    expect(askAgainAt(900_000, 600_000, 2_400_000)).toBe(900_000);
  });

  it("ask again - advice at the track end is left to the boundary", () => {
    expect(askAgainAt(200_000, 60_000, 200_000)).toBeUndefined();
    expect(askAgainAt(200_000 - END_MARGIN_MS + 1, 60_000, 200_000)).toBeUndefined();
  });

  it("ask again - no advice (0) or stale advice falls back to the interval", () => {
    expect(askAgainAt(0, 100_000, 2_000_000)).toBe(100_000 + FALLBACK_RETRY_MS);
    expect(askAgainAt(100_500, 100_000, 2_000_000)).toBe(100_000 + FALLBACK_RETRY_MS);
    // ... unless the fallback would land at the end, where the boundary asks anyway.
    expect(askAgainAt(0, 100_000, 100_000 + FALLBACK_RETRY_MS)).toBeUndefined();
  });
});

/**
 * A strategy that answers like Chorus's Timing agent (the real adviseBreak): "not a good moment" mid-content with
 * the advised next break, else a one-ad pod at the advised offset. It records every ask.
 */
class TimingLikeStrategy implements Strategy {
  readonly name = "timing-like";
  readonly realtime = false;
  asks: { session: string; contentId: string; positionMs: number; durationMs: number; advised?: number }[] = [];
  private creative: Creative | undefined;
  launch = async () => {};
  start = async (setup: StrategySetup) => {
    this.creative = setup.creatives.find((c) => c.format === AdFormat.AUDIO);
  };
  async decide(request: DecideRequest): Promise<DecideResponse> {
    const c = request.context!;
    const advice = adviseBreak(
      {
        positionMs: c.positionMs,
        durationMs: c.contentDurationMs,
        contentKind: c.contentKind,
        chapterMarkersMs: c.chapterMarkersMs,
        silenceMarkersMs: [],
        paused: false,
        justSkipped: false,
      },
      { breakKind: BreakKind.MID_ROLL, forceNow: false },
    );
    const ask = {
      session: c.sessionId,
      contentId: c.contentId,
      positionMs: c.positionMs,
      durationMs: c.contentDurationMs,
    };
    const decisionId = `timing-like-${this.asks.length}`;
    if (!advice.breakNow) {
      this.asks.push({ ...ask, advised: advice.insertionOffsetMs });
      return create(DecideResponseSchema, {
        decisionId,
        noFillReason: NoFillReason.NOT_A_GOOD_MOMENT,
        nextBreakOffsetMs: advice.insertionOffsetMs,
      });
    }
    this.asks.push(ask);
    const cr = this.creative!;
    return create(DecideResponseSchema, {
      decisionId,
      ads: [
        {
          sequence: 1,
          creativeId: cr.id,
          campaignId: cr.campaignId,
          priceMicros: 1_000n,
          durationMs: cr.durationMs,
          insertionOffsetMs: advice.insertionOffsetMs,
        },
      ],
    });
  }
  reportPlayback = async () => {};
  reportEvents = async () => {};
  stop = async () => {};
}

describe("ask again in the world", () => {
  it("ask again - after not-a-good-moment the player asks at the advised break and never inserts mid-track", async () => {
    const s = parseScenario({
      seed: 11,
      horizonMinutes: 90,
      listeners: { count: 120, podcastShare: 0.5 },
      publisher: { breakEveryMinutes: 6 },
      market: { advertisers: 2, campaignsPerAdvertiser: 1 },
    });
    const strategy = new TimingLikeStrategy();
    const outcome = await runWorld(s, strategy);
    const refusals = strategy.asks.filter((a) => a.advised !== undefined);
    expect(refusals.length).toBeGreaterThan(10);
    let followed = 0;
    for (const [i, a] of strategy.asks.entries()) {
      if (a.advised === undefined) continue;
      const next = strategy.asks.slice(i + 1).find((b) => b.session === a.session);
      // The session may end or its content change before the advised break.
      if (!next || next.contentId !== a.contentId) continue;
      // Asked at the advised break, or at the content's end (a skip ends it early; a skip signal is not a decide).
      const expected = askAgainAt(a.advised, a.positionMs, a.durationMs) ?? a.durationMs;
      expect([expected, a.durationMs]).toContain(next.positionMs);
      if (next.positionMs === expected) followed++;
    }
    expect(followed).toBeGreaterThan(5);
    // Podcasts got chapter-marker breaks, and nothing cut into a track.
    expect(outcome.insertions.atChapterMarker).toBeGreaterThan(0);
    expect(outcome.insertions.betweenTracks).toBeGreaterThan(0);
    expect(outcome.insertions.midTrack).toBe(0);
    // Pods sold for a track's end are lost when the listener stops there; the world counts them.
    expect(outcome.unplayedAds).toBeGreaterThan(0);
  });
});
