import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { DecideTaskSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { AgeBracket, BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import { type DecideRequest, DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { DEMO_GENRES, DEMO_MOODS } from "../../lib/demo/demo-catalog.ts";
import { createSeededRandom } from "../../lib/random/seeded-random.ts";
import type { CounterField } from "../lib/numbered-bodies.ts";

/** request_id and user_id placeholders: the load client rewrites their digits per request (CounterField). */
const REQUEST_MARKER = "bench-request-";
const USER_MARKER = "bench-user-";
const REQUEST_DIGITS = 12;
const USER_DIGITS = 8;
/**
 * Users the load walks through, each once per this many requests: a search of ~13 steps sends well under a
 * million, so no user comes back within a run, frequency caps never fill and the sold share stays the same from
 * step to step (with a few hundred fixed users it fell from 0.45 to 0.27 within one run).
 */
export const USER_POOL = 10_000_000;
/**
 * What the bench and the soak multiply the demo catalog's budgets by: at its own budgets pacing binds within
 * seconds, sooner the higher the rate, and the sold share (with the work behind it) falls during a run.
 */
export const BUDGET_SCALE = 1000;

export interface EncodedRequests {
  bodies: string[];
  fields: CounterField[];
  /** A DecideTask as an agent would receive it, for the NATS fan-out ceiling's payload. */
  taskPayload: string;
}

/**
 * A seeded pool of realistic DecideRequests against the demo catalog (genres, moods, countries, devices), encoded
 * once. The user is rewritten per request from a large pool (USER_POOL), so the workload stays the same from the
 * first step of a search to the last.
 */
export function decideRequests(count = 512, seed = 42): EncodedRequests {
  const rnd = createSeededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const requests: DecideRequest[] = Array.from({ length: count }, (_, i) =>
    create(DecideRequestSchema, {
      requestId: REQUEST_MARKER + "0".repeat(REQUEST_DIGITS),
      placement: {
        placementId: "bench-mid-roll",
        breakKind: pick([BreakKind.MID_ROLL, BreakKind.MID_ROLL, BreakKind.PRE_ROLL]),
        maxDurationMs: pick([30_000, 60_000]),
        maxAds: pick([1, 2, 3]),
        floorPriceMicros: BigInt(pick([0, 1_000, 2_000])),
      },
      user: {
        userId: USER_MARKER + "0".repeat(USER_DIGITS),
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
  const task = create(DecideTaskSchema, {
    runId: "bench-run-000000000000",
    request: requests[0],
    inventoryVersion: 1n,
    deadline: timestampFromMs(Date.now()),
  });
  return {
    bodies: encoded.map((b) => b.toString("base64")),
    fields: [
      { marker: REQUEST_MARKER, digits: REQUEST_DIGITS },
      { marker: USER_MARKER, digits: USER_DIGITS, pool: USER_POOL },
    ],
    taskPayload: Buffer.from(toBinary(DecideTaskSchema, task)).toString("base64"),
  };
}
