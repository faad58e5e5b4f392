import { create } from "@bufbuild/protobuf";
import { AdFormat, BreakKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import { type DecideRequest, DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";

/** A valid Decide request for a 3-ad, 90-second audio mid-roll. */
export function decideRequest(requestId = "req-1"): DecideRequest {
  return create(DecideRequestSchema, {
    requestId,
    placement: {
      placementId: "mid-1",
      breakKind: BreakKind.MID_ROLL,
      maxDurationMs: 90_000,
      maxAds: 3,
      allowedFormats: [AdFormat.AUDIO],
      floorPriceMicros: 1_500n,
    },
    user: { userId: "user-42", consent: { personalizedAds: true }, geo: { country: "DE" } },
    device: { type: DeviceType.PHONE, os: "android" },
    context: { sessionId: "s-1", genre: "rock", moodTags: ["upbeat"] },
  });
}
