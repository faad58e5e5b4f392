import { create } from "@bufbuild/protobuf";
import { AgeBracket, BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import { type DecideRequest, DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";

/** A valid request a demo listener could send: music between two tracks, phone in the foreground. */
export function demoRequest(overrides: Partial<DecideRequest> = {}): DecideRequest {
  const base = create(DecideRequestSchema, {
    requestId: "r1",
    placement: { placementId: "p", breakKind: BreakKind.MID_ROLL, maxDurationMs: 60_000, maxAds: 3 },
    user: {
      userId: "listener-1",
      consent: { personalizedAds: true, measurement: true },
      ageBracket: AgeBracket.AGE_BRACKET_25_34,
      geo: { country: "DE" },
    },
    device: { type: DeviceType.PHONE, screenOn: true, foreground: true, touch: true },
    context: {
      sessionId: "s1",
      contentKind: ContentKind.MUSIC,
      genre: "pop",
      contentDurationMs: 200_000,
      positionMs: 200_000,
    },
    explain: true,
  });
  return { ...base, ...overrides };
}
