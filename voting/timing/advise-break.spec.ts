import { describe, expect, it } from "vitest";
import { BreakKind, ContentKind } from "../../gen/chorus/v1/common_pb.ts";
import { adviseBreak, INTRUSIVENESS, type PlaybackPoint } from "./advise-break.ts";

const at = (p: Partial<PlaybackPoint>): PlaybackPoint => ({
  positionMs: 60_000,
  durationMs: 200_000,
  contentKind: ContentKind.MUSIC,
  chapterMarkersMs: [],
  silenceMarkersMs: [],
  paused: false,
  justSkipped: false,
  ...p,
});
const mid = { breakKind: BreakKind.MID_ROLL, forceNow: false };

describe("timing - break moment and insertion offset", () => {
  it("music: between tracks yes, mid-track no (offset = track end), unless forced", () => {
    expect(adviseBreak(at({ positionMs: 200_000 }), mid)).toMatchObject({ breakNow: true, intrusiveness: 0 });
    const midTrack = adviseBreak(at({}), mid);
    expect(midTrack).toMatchObject({ breakNow: false, insertionOffsetMs: 200_000 });
    expect(adviseBreak(at({ positionMs: 190_000 }), mid)).toMatchObject({ breakNow: true, insertionOffsetMs: 200_000 });
    expect(adviseBreak(at({}), { ...mid, forceNow: true })).toMatchObject({
      breakNow: true,
      insertionOffsetMs: 60_000,
      intrusiveness: 1,
    });
    expect(adviseBreak(at({ justSkipped: true }), mid).breakNow).toBe(true);
    expect(adviseBreak(at({ paused: true }), mid).intrusiveness).toBe(INTRUSIVENESS.paused);
  });

  it("podcast: prefers a chapter marker over a nearer silence, uses silences when no chapter is near", () => {
    const podcast = { contentKind: ContentKind.PODCAST, durationMs: 3_600_000 };
    const both = adviseBreak(at({ ...podcast, chapterMarkersMs: [75_000], silenceMarkersMs: [65_000] }), mid);
    expect(both).toMatchObject({ breakNow: true, insertionOffsetMs: 75_000, intrusiveness: INTRUSIVENESS.chapter });
    const silence = adviseBreak(at({ ...podcast, chapterMarkersMs: [900_000], silenceMarkersMs: [70_000] }), mid);
    expect(silence).toMatchObject({ breakNow: true, insertionOffsetMs: 70_000 });
    const none = adviseBreak(at({ ...podcast, chapterMarkersMs: [900_000] }), mid);
    expect(none).toMatchObject({ breakNow: false, insertionOffsetMs: 900_000 });
  });
});
