/**
 * Server-side bounds on every RPC but Decide (which keeps its own deadline): a unary call that does not finish is
 * ended with DEADLINE_EXCEEDED at the configured deadline; a StreamPlayback stream is paced to its rate, refused
 * past its length (RESOURCE_EXHAUSTED) and ended at its maximum duration (DEADLINE_EXCEEDED). Over gRPC and
 * Connect, through the real gateway.
 */
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DecisionService,
  PlaybackSignal_PositionSchema,
  PlaybackSignalSchema,
  StreamPlaybackRequestSchema,
} from "../gen/chorus/v1/decision_pb.ts";
import { withApiKey } from "./auth/client-key.ts";
import type { PlaybackSink } from "./server/ports.ts";
import { type GatewayFixture, startGatewayFixture, TEST_PSEUDONYMS } from "./testing/gateway-fixture.ts";

/** Publishes nothing for user "stuck" (an outage that never answers); counts the rest. */
class StallingSink implements PlaybackSink {
  published = 0;
  publish(signals: readonly { userId: string }[]): Promise<number> {
    if (signals.some((s) => s.userId.length > 0 && stuck.has(s.userId))) return new Promise(() => {});
    this.published += signals.length;
    return Promise.resolve(signals.length);
  }
}
const stuck = new Set<string>();

const request = (userId: string) =>
  create(StreamPlaybackRequestSchema, {
    signal: create(PlaybackSignalSchema, {
      sessionId: `s-${userId}`,
      userId,
      at: timestampNow(),
      consent: { measurement: true },
      kind: { case: "position", value: create(PlaybackSignal_PositionSchema, { positionMs: 1 }) },
    }),
  });

describe("RPC bounds", () => {
  let fx: GatewayFixture;
  const sink = new StallingSink();
  beforeAll(async () => {
    fx = await startGatewayFixture({
      playback: sink,
      rpcBounds: { deadlineMs: 300, streamMaxMessages: 20, streamPerSecond: 10, streamMaxMs: 3_000 },
    });
  });
  afterAll(() => fx?.cleanup());
  const grpc = () =>
    createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(fx.keys.decide)] }),
    );

  it("a unary call that hangs ends with DEADLINE_EXCEEDED at the server's deadline (gRPC and Connect)", async () => {
    stuck.add(TEST_PSEUDONYMS.user("hangs"));
    const signal = request("hangs").signal!;
    const connect = createClient(
      DecisionService,
      createConnectTransport({
        baseUrl: fx.gateway.url,
        httpVersion: "1.1",
        interceptors: [withApiKey(fx.keys.decide)],
      }),
    );
    for (const client of [grpc(), connect]) {
      const started = performance.now();
      await expect(client.reportPlayback({ signals: [signal] })).rejects.toMatchObject({
        code: Code.DeadlineExceeded,
      });
      const took = performance.now() - started;
      expect(took).toBeGreaterThanOrEqual(290);
      expect(took).toBeLessThan(5_000);
    }
    // The gateway keeps serving.
    expect((await grpc().reportPlayback({ signals: [request("fine").signal!] })).accepted).toBe(1);
  });

  it("StreamPlayback is paced to its rate and refused past its length", async () => {
    async function* twenty() {
      for (let i = 0; i < 20; i++) yield request(`r${i}`);
    }
    const started = performance.now();
    expect((await grpc().streamPlayback(twenty())).accepted).toBe(20);
    // A burst of 10, then 10 more at 10 per second.
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);

    async function* tooMany() {
      for (let i = 0; i < 25; i++) yield request(`m${i}`);
    }
    const before = sink.published;
    await expect(grpc().streamPlayback(tooMany())).rejects.toMatchObject({
      code: Code.ResourceExhausted,
      rawMessage: expect.stringContaining("at most 20 messages"),
    });
    expect(sink.published - before).toBe(20);
  });

  it("a StreamPlayback stream that never ends is closed at its maximum duration", async () => {
    let release: () => void = () => {};
    async function* forever() {
      yield request("slow");
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    }
    const started = performance.now();
    await expect(grpc().streamPlayback(forever())).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    release();
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(2_900);
    expect(took).toBeLessThan(10_000);
  });
});
