import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type AdEvent, AdEventSchema, AdEventType, type PodAd } from "../../gen/chorus/v1/decision_pb.ts";

/** How one ad played: from when, for how long, and what the listener did. */
export interface AdPlay {
  startedAt: number;
  played: number;
  completed: boolean;
  clicked: boolean;
}

/**
 * The events a player reports for one played ad: impression and start when it starts, complete or skip when it
 * stops, and a click then if there was one. Ids come from the world's sequence, in this order.
 */
export function playedAdEvents(
  decisionId: string,
  ad: Pick<PodAd, "creativeId" | "eventToken">,
  play: AdPlay,
  ids: { nextEventId: () => string; toWallMs: (simMs: number) => number },
): AdEvent[] {
  const end = play.startedAt + play.played;
  const events: [AdEventType, number][] = [
    [AdEventType.IMPRESSION, play.startedAt],
    [AdEventType.START, play.startedAt],
    [play.completed ? AdEventType.COMPLETE : AdEventType.SKIP, end],
    ...(play.clicked ? [[AdEventType.CLICK, end] as [AdEventType, number]] : []),
  ];
  return events.map(([type, when]) =>
    create(AdEventSchema, {
      eventId: ids.nextEventId(),
      decisionId,
      creativeId: ad.creativeId,
      type,
      occurredAt: timestampFromMs(ids.toWallMs(when)),
      eventToken: ad.eventToken,
    }),
  );
}
