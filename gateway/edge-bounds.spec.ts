import { create } from "@bufbuild/protobuf";
import { TimestampSchema, timestampNow } from "@bufbuild/protobuf/wkt";
import { type Client, Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CampaignService } from "../gen/chorus/v1/campaign_pb.ts";
import { AdEventType, DecisionService, PlaybackSignalSchema } from "../gen/chorus/v1/decision_pb.ts";
import { subjects } from "../lib/subjects.ts";
import { withApiKey } from "./auth/client-key.ts";
import { type GatewayFixture, startGatewayFixture, testCampaign } from "./testing/gateway-fixture.ts";
import { decideRequest } from "./testing/sample-requests.ts";

/**
 * Values that once passed the edge and broke what came after (an INTERNAL answer, agents unable to save their
 * snapshots): every one is INVALID_ARGUMENT naming the field, and nothing of the request reaches NATS.
 */
let fx: GatewayFixture;
let decisions: Client<typeof DecisionService>;
let campaigns: Client<typeof CampaignService>;
beforeAll(async () => {
  fx = await startGatewayFixture();
  decisions = createClient(
    DecisionService,
    createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(fx.keys.decide)] }),
  );
  campaigns = createClient(
    CampaignService,
    createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(fx.keys.admin)] }),
  );
});
afterAll(() => fx?.cleanup());

const INT64_MIN = -(2n ** 63n);
const nowSeconds = () => BigInt(Math.floor(Date.now() / 1000));

const refused = (field: string) => ({ code: Code.InvalidArgument, rawMessage: expect.stringContaining(field) });

describe("edge bounds", () => {
  it("edge bounds - CreateCampaign with start_time nanos -1 or seconds -2^63 is INVALID_ARGUMENT naming the field", async () => {
    for (const [startTime, field] of [
      [{ seconds: nowSeconds(), nanos: -1 }, "campaign.start_time.nanos"],
      [{ seconds: INT64_MIN, nanos: 0 }, "campaign.start_time.seconds"],
      [{ seconds: 1n, nanos: 0 }, "campaign.start_time"],
    ] as const) {
      const campaign = testCampaign(`c-${field.length}`, "acme");
      campaign.startTime = create(TimestampSchema, startTime);
      await expect(campaigns.createCampaign({ campaign })).rejects.toMatchObject(refused(field));
    }
    const far = testCampaign("far", "acme");
    far.endTime = { $typeName: "google.protobuf.Timestamp", seconds: 2n ** 62n, nanos: 0 };
    await expect(campaigns.createCampaign({ campaign: far })).rejects.toMatchObject(refused("campaign.end_time"));
    // The valid one is still created.
    expect((await campaigns.createCampaign({ campaign: testCampaign("fine", "acme") })).campaign?.id).toBe("fine");
  });

  it("edge bounds - UpdateCampaign with the same values is INVALID_ARGUMENT naming the field; the campaign is unchanged", async () => {
    const created = (await campaigns.createCampaign({ campaign: testCampaign("upd", "acme") })).campaign!;
    for (const [startTime, field] of [
      [{ seconds: nowSeconds(), nanos: -1 }, "campaign.start_time.nanos"],
      [{ seconds: INT64_MIN, nanos: 0 }, "campaign.start_time.seconds"],
    ] as const) {
      const campaign = testCampaign("upd", "acme");
      campaign.startTime = create(TimestampSchema, startTime);
      await expect(campaigns.updateCampaign({ campaign })).rejects.toMatchObject(refused(field));
    }
    const after = (await campaigns.getCampaign({ id: "upd" })).campaign!;
    expect(after.startTime).toEqual(created.startTime);
  });

  it("edge bounds - StreamPlayback refuses an extreme timestamp with INVALID_ARGUMENT naming the field; nothing is published", async () => {
    const sub = fx.nats.nc.subscribe(subjects.playbackAll);
    async function* signals() {
      yield {
        signal: create(PlaybackSignalSchema, {
          sessionId: "s-stream",
          userId: "u-stream",
          at: { seconds: 2n ** 63n / 1000n, nanos: 0 },
          kind: { case: "sessionEnd", value: {} },
        }),
      };
    }
    await expect(decisions.streamPlayback(signals())).rejects.toMatchObject(refused("signal.at"));
    await fx.nats.nc.flush();
    sub.unsubscribe();
    expect(sub.getProcessed()).toBe(0);
  });

  it("edge bounds - over the Connect protocol (JSON) the same values get the same answer", async () => {
    const connectClient = createClient(
      DecisionService,
      createConnectTransport({
        baseUrl: fx.gateway.url,
        httpVersion: "1.1",
        useBinaryFormat: false,
        interceptors: [withApiKey(fx.keys.decide)],
      }),
    );
    const extreme = create(PlaybackSignalSchema, {
      sessionId: "s-json",
      userId: "u-json",
      at: { seconds: nowSeconds() + 2n * 86_400n, nanos: 0 },
      kind: { case: "sessionEnd", value: {} },
    });
    await expect(connectClient.reportPlayback({ signals: [extreme] })).rejects.toMatchObject(refused("signals[0].at"));
    const request = decideRequest("bounds-json");
    request.context!.contentDurationMs = 2 ** 32 - 1;
    await expect(connectClient.decide(request)).rejects.toMatchObject(refused("context.content_duration_ms"));
  });

  it("edge bounds - ReportPlayback with an extreme timestamp or position is refused and nothing is published", async () => {
    const sub = fx.nats.nc.subscribe(subjects.playbackAll);
    const base = { sessionId: "s1", userId: "u1" };
    const extreme = create(PlaybackSignalSchema, {
      ...base,
      // about 2^63 ms
      at: { seconds: 2n ** 63n / 1000n, nanos: 0 },
      kind: { case: "sessionEnd", value: {} },
    });
    await expect(decisions.reportPlayback({ signals: [extreme] })).rejects.toMatchObject(refused("signals[0].at"));
    const yesterday = create(PlaybackSignalSchema, {
      ...base,
      at: { seconds: nowSeconds() - 2n * 86_400n, nanos: 0 },
      kind: { case: "sessionEnd", value: {} },
    });
    await expect(decisions.reportPlayback({ signals: [yesterday] })).rejects.toMatchObject(refused("signals[0].at"));
    const badNanos = create(PlaybackSignalSchema, {
      ...base,
      at: { seconds: nowSeconds(), nanos: 1_000_000_000 },
      kind: { case: "sessionEnd", value: {} },
    });
    await expect(decisions.reportPlayback({ signals: [badNanos] })).rejects.toMatchObject(
      refused("signals[0].at.nanos"),
    );
    const longPosition = create(PlaybackSignalSchema, {
      ...base,
      at: timestampNow(),
      kind: { case: "position", value: { positionMs: 2 ** 32 - 1 } },
    });
    await expect(decisions.reportPlayback({ signals: [longPosition] })).rejects.toMatchObject(
      refused("signals[0].position.position_ms"),
    );
    await fx.nats.nc.flush();
    sub.unsubscribe();
    expect(sub.getProcessed()).toBe(0);
  });

  it("edge bounds - ReportEvents with occurred_at far away is INVALID_ARGUMENT naming the field", async () => {
    const event = {
      eventId: "e1",
      decisionId: "d1",
      creativeId: "cr-a",
      type: AdEventType.IMPRESSION,
      occurredAt: { $typeName: "google.protobuf.Timestamp" as const, seconds: INT64_MIN, nanos: 0 },
    };
    await expect(decisions.reportEvents({ events: [event] })).rejects.toMatchObject(
      refused("events[0].occurred_at.seconds"),
    );
    event.occurredAt = { $typeName: "google.protobuf.Timestamp", seconds: nowSeconds() + 3n * 86_400n, nanos: 0 };
    await expect(decisions.reportEvents({ events: [event] })).rejects.toMatchObject(refused("events[0].occurred_at"));
    expect(fx.events.seen.size).toBe(0);
  });

  it("edge bounds - Decide with positions beyond a day is INVALID_ARGUMENT naming the field", async () => {
    const request = decideRequest("bounds");
    request.context!.positionMs = 2 ** 32 - 1;
    await expect(decisions.decide(request)).rejects.toMatchObject(refused("context.position_ms"));
    const markers = decideRequest("markers");
    markers.context!.chapterMarkersMs = [1_000, 2 ** 31];
    await expect(decisions.decide(markers)).rejects.toMatchObject(refused("context.chapter_markers_ms[1]"));
    expect((await decisions.decide(decideRequest("fine"))).ads.length).toBeGreaterThan(0);
  });
});
