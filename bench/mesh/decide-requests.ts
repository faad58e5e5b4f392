import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { DecideTaskSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { AgeBracket, BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import { type DecideRequest, DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { DEMO_GENRES, DEMO_MOODS } from "../../lib/demo/demo-catalog.ts";
import { createSeededRandom } from "../../lib/random/seeded-random.ts";

/** request_id placeholder: rewritten per request by the load client so every request id is unique. */
const ID_DIGITS = 12;
const ID_PLACEHOLDER = `bench-${"0".repeat(ID_DIGITS)}`;

export interface EncodedRequests {
  bodies: string[];
  uniqueField: { offset: number; length: number };
  /** A DecideTask as an agent would receive it, for the NATS fan-out ceiling's payload. */
  taskPayload: string;
}

/**
 * A seeded pool of realistic DecideRequests against the demo catalog (genres, moods, countries, devices), encoded
 * once. Many distinct users so per-user state and caches see a realistic spread.
 */
export function decideRequests(count = 512, seed = 42): EncodedRequests {
  const rnd = createSeededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const requests: DecideRequest[] = Array.from({ length: count }, (_, i) =>
    create(DecideRequestSchema, {
      requestId: ID_PLACEHOLDER,
      placement: {
        placementId: "bench-mid-roll",
        breakKind: pick([BreakKind.MID_ROLL, BreakKind.MID_ROLL, BreakKind.PRE_ROLL]),
        maxDurationMs: pick([30_000, 60_000]),
        maxAds: pick([1, 2, 3]),
        floorPriceMicros: BigInt(pick([0, 1_000, 2_000])),
      },
      user: {
        userId: `bench-user-${Math.floor(rnd() * 20_000)}`,
        consent: { personalizedAds: rnd() < 0.7, measurement: rnd() < 0.8 },
        ageBracket: pick([AgeBracket.AGE_BRACKET_18_24, AgeBracket.AGE_BRACKET_25_34, AgeBracket.AGE_BRACKET_35_44]),
        geo: { country: pick(["DE", "FR", "GB", "US", "SE", "ES"]) },
      },
      device: {
        type: pick([DeviceType.PHONE, DeviceType.PHONE, DeviceType.DESKTOP, DeviceType.SMART_SPEAKER]),
        screenOn: rnd() < 0.5,
        foreground: rnd() < 0.5,
      },
      context: {
        sessionId: `bench-session-${i}`,
        contentKind: pick([ContentKind.MUSIC, ContentKind.MUSIC, ContentKind.PODCAST]),
        contentId: `track-${Math.floor(rnd() * 5_000)}`,
        genre: pick(DEMO_GENRES),
        moodTags: [pick(DEMO_MOODS)],
        // Like a player: mostly at a break point (the track's last 15 s), one in five mid-track (answered
        // NOT_A_GOOD_MOMENT without an auction).
        positionMs: rnd() < 0.8 ? 200_000 - Math.floor(rnd() * 15_000) : Math.floor(rnd() * 170_000),
        contentDurationMs: 200_000,
        recentSkips: Math.floor(rnd() * 4),
        sessionLengthMs: Math.floor(rnd() * 3_600_000),
      },
    }),
  );
  const encoded = requests.map((r) => Buffer.from(toBinary(DecideRequestSchema, r)));
  const offset = encoded[0]!.indexOf(ID_PLACEHOLDER) + ID_PLACEHOLDER.length - ID_DIGITS;
  if (encoded.some((b) => b.indexOf(ID_PLACEHOLDER) + ID_PLACEHOLDER.length - ID_DIGITS !== offset))
    throw new Error("request_id is not at the same offset in every encoded request");
  const task = create(DecideTaskSchema, {
    runId: "bench-run-000000000000",
    request: requests[0],
    inventoryVersion: 1n,
    deadline: timestampFromMs(Date.now()),
  });
  return {
    bodies: encoded.map((b) => b.toString("base64")),
    uniqueField: { offset, length: ID_DIGITS },
    taskPayload: Buffer.from(toBinary(DecideTaskSchema, task)).toString("base64"),
  };
}
