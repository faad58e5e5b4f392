import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as hdr from "hdr-histogram-js";
import { withApiKey } from "../gateway/auth/client-key.ts";
import { AdFormat, AgeBracket, BreakKind, ContentKind, DeviceType } from "../gen/chorus/v1/common_pb.ts";
import {
  type AdEvent,
  AdEventSchema,
  AdEventType,
  type DecideRequest,
  DecideRequestSchema,
  DecisionService,
  PlaybackSignalSchema,
  type PodAd,
} from "../gen/chorus/v1/decision_pb.ts";
import { DEMO_GENRES, DEMO_MOODS } from "../lib/demo/demo-catalog.ts";
import { createSeededRandom } from "../lib/random/seeded-random.ts";

export interface DemoStats {
  second: number;
  decisions: number;
  errors: number;
  filled: number;
  degraded: number;
  p50Ms: number;
  p99Ms: number;
  events: number;
  /** Error counts by status code name, e.g. { deadline_exceeded: 3 }. */
  errorCodes: Record<string, number>;
}

const COUNTRIES = ["DE", "FR", "GB", "US", "SE", "ES"];

/**
 * Demo listeners: each has a session with tracks; at track boundaries the app asks for an ad break, reports the
 * impression (and sometimes a click or a skip) a little later, and reports playback as it goes.
 * Requests go out at a fixed rate, whatever the latency (open loop), and latency counts from the planned send time.
 */
export class DemoTraffic {
  private readonly client: Client<typeof DecisionService>;
  private readonly rnd = createSeededRandom(42);
  private timer: NodeJS.Timeout | undefined;
  private readonly histogram = hdr.build();
  private window = this.emptyWindow();
  private second = 0;
  private pendingEvents: AdEvent[] = [];

  constructor(
    baseUrl: string,
    apiKey: string,
    private readonly rate: number,
    private readonly onStats: (stats: DemoStats) => void,
  ) {
    this.client = createClient(DecisionService, createGrpcTransport({ baseUrl, interceptors: [withApiKey(apiKey)] }));
  }

  start(): void {
    const intervalMs = 1000 / this.rate;
    const started = performance.now();
    let sent = 0;
    let lastReport = started;
    this.timer = setInterval(() => {
      const now = performance.now();
      // Catch up on every send that was due, so a slow response never lowers the offered rate.
      while (started + sent * intervalMs <= now) {
        void this.decideOnce(started + sent * intervalMs, sent);
        sent++;
      }
      if (now - lastReport >= 1000) {
        lastReport = now;
        this.report();
      }
    }, 5);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flushEvents();
  }

  private async decideOnce(plannedAt: number, n: number): Promise<void> {
    const request = this.request(n);
    try {
      if (n % 4 === 0) await this.playback(request);
      const response = await this.client.decide(request, { timeoutMs: 1_000 });
      this.histogram.recordValue(Math.max(1, Math.round((performance.now() - plannedAt) * 1000)));
      this.window.decisions++;
      if (response.ads.length > 0) this.window.filled++;
      if (response.degradedAgents.length > 0) this.window.degraded++;
      for (const ad of response.ads) {
        this.pendingEvents.push(this.event(response.decisionId, ad, AdEventType.IMPRESSION));
        if (this.rnd() < 0.03) this.pendingEvents.push(this.event(response.decisionId, ad, AdEventType.CLICK));
        else if (this.rnd() < 0.6) this.pendingEvents.push(this.event(response.decisionId, ad, AdEventType.COMPLETE));
      }
      if (this.pendingEvents.length >= 50) await this.flushEvents();
    } catch (err) {
      this.countError(err);
    }
  }

  private emptyWindow() {
    return { decisions: 0, errors: 0, filled: 0, degraded: 0, events: 0, errorCodes: {} as Record<string, number> };
  }

  private countError(err: unknown): void {
    this.window.errors++;
    const code = Code[ConnectError.from(err).code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
    this.window.errorCodes[code] = (this.window.errorCodes[code] ?? 0) + 1;
  }

  private async flushEvents(): Promise<void> {
    const events = this.pendingEvents;
    this.pendingEvents = [];
    if (events.length === 0) return;
    try {
      const result = await this.client.reportEvents({ events });
      this.window.events += result.accepted;
    } catch (err) {
      this.countError(err);
    }
  }

  private async playback(request: DecideRequest): Promise<void> {
    const ctx = request.context!;
    await this.client.reportPlayback({
      signals: [
        create(PlaybackSignalSchema, {
          sessionId: ctx.sessionId,
          userId: request.user!.userId,
          at: timestampNow(),
          consent: request.user!.consent,
          kind: {
            case: "contentStart",
            value: {
              contentKind: ctx.contentKind,
              contentId: ctx.contentId,
              genre: ctx.genre,
              moodTags: ctx.moodTags,
              durationMs: ctx.contentDurationMs,
            },
          },
        }),
      ],
    });
  }

  /** The n-th demo request (seeded: the same n gives the same listener, device and context). */
  request(n: number): DecideRequest {
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(this.rnd() * xs.length)]!;
    const user = n % 500;
    const screenOn = this.rnd() < 0.4;
    return create(DecideRequestSchema, {
      requestId: `demo-${n}`,
      placement: {
        placementId: "demo-app-break",
        breakKind: BreakKind.MID_ROLL,
        maxDurationMs: 60_000,
        maxAds: 3,
        allowedFormats: [AdFormat.AUDIO, AdFormat.VIDEO, AdFormat.INTERACTIVE],
        floorPriceMicros: 1_000n,
      },
      user: {
        userId: `listener-${user}`,
        consent: { personalizedAds: user % 5 !== 0, measurement: true },
        ageBracket: pick([
          AgeBracket.AGE_BRACKET_18_24,
          AgeBracket.AGE_BRACKET_25_34,
          AgeBracket.AGE_BRACKET_35_44,
          AgeBracket.AGE_BRACKET_UNDER_18,
        ]),
        geo: { country: pick(COUNTRIES) },
      },
      device: {
        type: pick([DeviceType.PHONE, DeviceType.DESKTOP, DeviceType.SMART_SPEAKER]),
        screenOn,
        foreground: screenOn,
        touch: true,
      },
      context: {
        sessionId: `session-${user}`,
        contentKind: ContentKind.MUSIC,
        contentId: `track-${n % 97}`,
        genre: pick(DEMO_GENRES),
        moodTags: [pick(DEMO_MOODS)],
        positionMs: 0,
        contentDurationMs: 200_000,
        sessionLengthMs: 600_000,
      },
    });
  }

  private event(decisionId: string, ad: PodAd, type: AdEventType): AdEvent {
    return create(AdEventSchema, {
      eventId: `${decisionId}:${ad.creativeId}:${type}`,
      decisionId,
      creativeId: ad.creativeId,
      eventToken: ad.eventToken,
      type,
      occurredAt: timestampNow(),
    });
  }

  private report(): void {
    const w = this.window;
    this.onStats({
      second: ++this.second,
      ...w,
      p50Ms: this.histogram.getValueAtPercentile(50) / 1000,
      p99Ms: this.histogram.getValueAtPercentile(99) / 1000,
    });
    this.histogram.reset();
    this.window = this.emptyWindow();
  }
}
