import { create } from "@bufbuild/protobuf";
import { BreakKind } from "../../gen/chorus/v1/common_pb.ts";
import { type DecideRequest, DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import type { Scenario } from "./scenario.ts";
import type { Session } from "./world-types.ts";

/** What the world knows when it asks a strategy about a break, beyond the session itself. */
export interface BreakAsk {
  requestId: string;
  /** This break's competing demand (the floor), drawn by the world from its market stream. */
  floorCpmMicros: number;
  /** Where the content is now (ignored between tracks: the break is at the content's end). */
  positionMs: number;
  at: number;
  betweenTracks: boolean;
}

/** The Decide request a player would send for a mid-roll break in `session`. */
export function breakRequest(s: Scenario, session: Session, ask: BreakAsk): DecideRequest {
  const l = session.listener;
  const item = session.content!;
  return create(DecideRequestSchema, {
    requestId: ask.requestId,
    placement: {
      placementId: "sim-player",
      breakKind: BreakKind.MID_ROLL,
      maxDurationMs: s.publisher.maxBreakMs,
      maxAds: s.publisher.maxAdsPerBreak,
      floorPriceMicros: BigInt(Math.round(ask.floorCpmMicros / 1000)),
    },
    user: {
      userId: l.id,
      consent: { personalizedAds: l.personalizedConsent, measurement: true },
      ageBracket: l.ageBracket,
      geo: { country: l.country },
    },
    device: { type: l.device, screenOn: session.screenOn, foreground: session.screenOn },
    context: {
      sessionId: session.id,
      contentKind: item.kind,
      contentId: item.id,
      genre: item.genre,
      moodTags: item.moods,
      positionMs: Math.round(ask.betweenTracks ? item.durationMs : ask.positionMs),
      contentDurationMs: item.durationMs,
      recentSkips: session.recentSkips,
      sessionLengthMs: Math.round(ask.at - session.startedAt),
      chapterMarkersMs: item.chapterMarkersMs,
    },
  });
}
