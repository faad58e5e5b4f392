import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { type Client, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { withApiKey } from "../gateway/auth/client-key.ts";
import {
  type AdEvent,
  AdEventSchema,
  AdEventType,
  DecisionService,
  EventRejection,
  type EventResult,
  EventResult_Status,
} from "../gen/chorus/v1/decision_pb.ts";
import { DemoTraffic } from "./demo-traffic.ts";

interface PendingEvent {
  event: AdEvent;
  campaignId: string;
  priceMicros: bigint;
  /** Gateway the next attempt goes to. */
  gateway: number;
  /** An attempt's outcome was unknown (error): a later DUPLICATE means our attempt (or a copy) was stored. */
  uncertain: boolean;
  repeat: boolean;
  /** Why the last answer asked to try again (or the last error): reported for events never confirmed. */
  lastAnswer?: string;
}

/**
 * Mixed load: Decide at a fixed rate (open loop) to the gateways in turn, retrying once on the other gateway; for
 * every sold ad its impression, sometimes a completion, and sometimes the impression again under a new event id (a
 * repeat the store must refuse). Events are retried, alternating gateways, until the store has answered for them.
 */
export class ChaosLoad {
  private readonly clients: Client<typeof DecisionService>[];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();
  private readonly pending = new Set<PendingEvent>();
  private eventTimer: NodeJS.Timeout | undefined;
  readonly failuresAt: number[] = [];
  /** Decide errors by message (first and retried attempts). */
  readonly errors = new Map<string, number>();
  private decides = 0;
  private successes = 0;
  private firstTryFailures = 0;
  private filled = 0;
  private sent = 0;
  private accepted = 0;
  private duplicates = 0;
  private rejected = 0;
  /** decisionId \0 creativeId of every impression the store holds -> campaign and price. */
  private readonly stored = new Map<string, { campaignId: string; priceMicros: bigint }>();
  private readonly traffic: DemoTraffic;

  constructor(
    urls: string[],
    apiKey: string,
    private readonly rnd: () => number,
  ) {
    this.clients = urls.map((baseUrl) =>
      createClient(DecisionService, createGrpcTransport({ baseUrl, interceptors: [withApiKey(apiKey)] })),
    );
    // Its request builder: listeners, genres, devices as the demo sends them.
    this.traffic = new DemoTraffic(urls[0]!, apiKey, 1, () => undefined);
  }

  start(rate: number): void {
    const interval = 1000 / rate;
    const started = performance.now();
    let n = 0;
    this.timer = setInterval(() => {
      while (started + n * interval <= performance.now()) {
        const p = this.decideOnce(n++);
        this.inFlight.add(p);
        void p.finally(() => this.inFlight.delete(p));
      }
    }, 5);
    this.eventTimer = setInterval(() => void this.retryEvents(), 500);
  }

  async stopDeciding(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.inFlight);
  }

  async drainEvents(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.pending.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    clearInterval(this.eventTimer);
  }

  private async decideOnce(n: number): Promise<void> {
    const request = this.traffic.request(n);
    request.requestId = `chaos-${n}`;
    this.decides++;
    const first = n % this.clients.length;
    for (const [attempt, gateway] of [first, (first + 1) % this.clients.length].entries()) {
      try {
        const response = await this.clients[gateway]!.decide(request, { timeoutMs: 5_000 });
        this.successes++;
        if (response.ads.length > 0) this.filled++;
        for (const ad of response.ads) {
          const event = (type: AdEventType, suffix: string) =>
            create(AdEventSchema, {
              eventId: `${response.decisionId}:${ad.creativeId}:${suffix}`,
              decisionId: response.decisionId,
              creativeId: ad.creativeId,
              eventToken: ad.eventToken,
              type,
              occurredAt: timestampNow(),
            });
          const add = (e: AdEvent, repeat = false) => {
            this.sent++;
            this.pending.add({
              event: e,
              campaignId: ad.campaignId,
              priceMicros: ad.priceMicros,
              gateway,
              uncertain: false,
              repeat,
            });
          };
          add(event(AdEventType.IMPRESSION, "imp"));
          if (this.rnd() < 0.5) add(event(AdEventType.COMPLETE, "complete"));
          if (this.rnd() < 0.1) add(event(AdEventType.IMPRESSION, "imp-again"), true);
        }
        return;
      } catch (err) {
        if (attempt === 0) this.firstTryFailures++;
        const message = ConnectError.from(err).message.slice(0, 120);
        this.errors.set(message, (this.errors.get(message) ?? 0) + 1);
      }
    }
    this.failuresAt.push(Date.now());
  }

  private retrying = false;

  private async retryEvents(): Promise<void> {
    if (this.retrying || this.pending.size === 0) return;
    this.retrying = true;
    try {
      // Impressions before the rest, so a completion never goes ahead of its ad's impression.
      const batch = [...this.pending].sort((a, b) => Number(a.event.type) - Number(b.event.type)).slice(0, 200);
      const byGateway = new Map<number, PendingEvent[]>();
      for (const p of batch) byGateway.set(p.gateway, [...(byGateway.get(p.gateway) ?? []), p]);
      await Promise.all(
        [...byGateway].map(async ([gateway, items]) => {
          const impressions = items.filter((p) => p.event.type === AdEventType.IMPRESSION);
          const rest = items.filter((p) => p.event.type !== AdEventType.IMPRESSION);
          for (const group of [impressions, rest]) {
            if (group.length === 0) continue;
            try {
              const response = await this.clients[gateway]!.reportEvents(
                { events: group.map((p) => p.event) },
                { timeoutMs: 5_000 },
              );
              for (const [i, p] of group.entries()) this.settle(p, response.results[i]);
            } catch (err) {
              for (const p of group) {
                p.lastAnswer = `error: ${(err as Error).message}`;
                p.uncertain = true;
                p.gateway = (p.gateway + 1) % this.clients.length;
              }
            }
          }
        }),
      );
    } finally {
      this.retrying = false;
    }
  }

  private settle(p: PendingEvent, result: EventResult | undefined): void {
    const status = result?.status;
    if (!result) p.lastAnswer = "no result";
    const reason = result?.reason ?? "";
    const key = `${p.event.decisionId}\u0000${p.event.creativeId}`;
    const impression = p.event.type === AdEventType.IMPRESSION;
    if (status === EventResult_Status.ACCEPTED) {
      this.accepted++;
      if (impression) this.stored.set(key, { campaignId: p.campaignId, priceMicros: p.priceMicros });
    } else if (status === EventResult_Status.DUPLICATE) {
      // The fact is stored either way: by our earlier attempt whose outcome was unknown, or by another copy.
      if (impression) this.stored.set(key, { campaignId: p.campaignId, priceMicros: p.priceMicros });
      if (p.uncertain && !p.repeat) this.accepted++;
      else this.duplicates++;
    } else if (status === EventResult_Status.REJECTED) {
      // A receipt still in a killed gateway's spool (its successor under the same id replays it): ask again later.
      p.lastAnswer = `${EventAdType(p)} rejected: ${reason || EventRejection[result?.rejection ?? 0]}`;
      if (result?.rejection === EventRejection.UNKNOWN_DECISION) return;
      this.rejected++;
    } else return;
    this.pending.delete(p);
  }

  expectedSpend(): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const { campaignId, priceMicros } of this.stored.values())
      out.set(campaignId, (out.get(campaignId) ?? 0n) + priceMicros);
    return out;
  }

  stats() {
    return {
      decides: this.decides,
      decideSuccess: this.successes,
      decideFirstTryFailures: this.firstTryFailures,
      decideSuccessRate: this.decides === 0 ? 0 : this.successes / this.decides,
      filled: this.filled,
      eventsSent: this.sent,
      eventsAccepted: this.accepted,
      eventsDuplicate: this.duplicates,
      eventsRejected: this.rejected,
      eventsUnconfirmed: this.pending.size,
      /** The last answer each never-confirmed event got, counted. */
      eventsUnconfirmedAnswers: [...this.pending].reduce<Record<string, number>>((m, p) => {
        const k = p.lastAnswer ?? "never answered";
        m[k] = (m[k] ?? 0) + 1;
        return m;
      }, {}),
      decideErrors: Object.fromEntries(this.errors),
      uniqueImpressions: this.stored.size,
    };
  }
}

const EventAdType = (p: PendingEvent) => AdEventType[p.event.type] ?? String(p.event.type);
