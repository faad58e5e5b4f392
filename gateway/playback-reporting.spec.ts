import { create, fromBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConsentSchema } from "../gen/chorus/v1/common_pb.ts";
import {
  DecisionService,
  type PlaybackSignal,
  PlaybackSignalSchema,
  StreamPlaybackRequestSchema,
} from "../gen/chorus/v1/decision_pb.ts";
import { subjects } from "../lib/subjects.ts";
import { withApiKey } from "./auth/client-key.ts";
import { pseudonymousSignal } from "./services/pseudonymous-ids.ts";
import { type GatewayFixture, startGatewayFixture, TEST_PSEUDONYMS } from "./testing/gateway-fixture.ts";

let fx: GatewayFixture;
beforeAll(async () => {
  fx = await startGatewayFixture();
});
afterAll(() => fx?.cleanup());

function signal(userId: string, positionMs: number): PlaybackSignal {
  return create(PlaybackSignalSchema, {
    sessionId: `s-${userId}`,
    userId,
    at: timestampNow(),
    kind: { case: "position", value: { positionMs } },
  });
}

/** Collects what arrives on the playback subjects, as the Intent and Timing agents would. */
function listen(count: number): Promise<{ subject: string; signal: PlaybackSignal }[]> {
  const sub = fx.nats.nc.subscribe(subjects.playbackAll, { max: count });
  return (async () => {
    const out: { subject: string; signal: PlaybackSignal }[] = [];
    for await (const msg of sub) out.push({ subject: msg.subject, signal: fromBinary(PlaybackSignalSchema, msg.data) });
    return out;
  })();
}

describe("gateway playback", () => {
  it("playback - ReportPlayback (Connect JSON over HTTP/1.1) publishes each signal on the user's shard", async () => {
    const received = listen(2);
    const client = createClient(
      DecisionService,
      createConnectTransport({
        baseUrl: fx.gateway.url,
        interceptors: [withApiKey(fx.keys.decide)],
        httpVersion: "1.1",
        useBinaryFormat: false,
      }),
    );
    const signals = [
      signal("alice", 1_000),
      { ...signal("bob", 2_000), consent: create(ConsentSchema, { measurement: true }) },
    ];
    expect((await client.reportPlayback({ signals })).accepted).toBe(2);
    const got = await received;
    // Only pseudonyms reach NATS: the user known by the session's pseudonym (no measurement consent) or, with
    // consent, by the user's.
    const onBus = signals.map((s) => pseudonymousSignal(s, TEST_PSEUDONYMS));
    expect(onBus[0]!.userId).not.toContain("alice");
    expect(got.map((m) => m.subject)).toEqual(onBus.map((s) => subjects.playback(s.userId)));
    expect(got.map((m) => m.signal)).toEqual(onBus);
  });

  it("playback - StreamPlayback (gRPC client stream) publishes as signals arrive", async () => {
    const received = listen(3);
    const client = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(fx.keys.decide)] }),
    );
    async function* requests() {
      for (const ms of [10, 20, 30]) yield create(StreamPlaybackRequestSchema, { signal: signal("carol", ms) });
    }
    expect((await client.streamPlayback(requests())).accepted).toBe(3);
    const got = await received;
    expect(got.map((m) => (m.signal.kind.case === "position" ? m.signal.kind.value.positionMs : -1))).toEqual([
      10, 20, 30,
    ]);
  });

  it("playback - an invalid signal is INVALID_ARGUMENT naming the field, and is not published", async () => {
    const client = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(fx.keys.decide)] }),
    );
    const bad = create(PlaybackSignalSchema, { sessionId: "s", userId: "dave", at: timestampNow() }); // no kind
    const sub = fx.nats.nc.subscribe(subjects.playbackAll);
    await expect(client.reportPlayback({ signals: [signal("dave", 1), bad] })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringContaining("signals[1].kind"),
    });
    await fx.nats.nc.flush();
    sub.unsubscribe();
    expect(sub.getProcessed()).toBe(0);
  });
});
