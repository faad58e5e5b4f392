import { create } from "@bufbuild/protobuf";
import {
  type AdEvent,
  type DecideResponse,
  type DecisionService,
  EventRejection,
  type EventResult,
  EventResult_Status,
  EventResultSchema,
  type PlaybackSignal,
  ReportEventsRequestSchema,
  ReportEventsResponseSchema,
  ReportPlaybackResponseSchema,
  StreamPlaybackResponseSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import type { EventSink } from "../../ledger/ports.ts";
import type { Pseudonyms } from "../../lib/privacy/pseudonyms.ts";
import type { Principal } from "../auth/api-key.ts";
import { principalKey } from "../auth/api-key-auth.ts";
import { type EventTokenCheck, type EventTokens, withEventToken } from "../auth/event-token.ts";
import type { DecisionEngine, PlaybackSink } from "../server/ports.ts";
import type { ServiceHandlers } from "../server/service-impl.ts";
import { IdempotentDecisions } from "./idempotent-decisions.ts";
import { pseudonymizeRequest, pseudonymousSignal } from "./pseudonymous-ids.ts";

export interface DecisionPorts {
  engine: DecisionEngine;
  events: EventSink;
  playback: PlaybackSink;
  /** User and session ids are replaced by these before anything else sees them (pseudonymous-ids.ts). */
  pseudonyms: Pseudonyms;
  /** Signs every ad of a decision and checks the token of every reported event. */
  eventTokens: EventTokens;
  /** request_id idempotency per API key (default: 10 minutes, in this process). */
  idempotency?: IdempotentDecisions;
}

/**
 * chorus.v1.DecisionService: the protocol layer's side only. Requests arrive authenticated and validated; the
 * ports do the work. The request's signal (deadline, disconnect) reaches the engine. Here: each ad gets its event
 * token, a request id repeated by the same key returns the first decision, the explanation is cut to what the
 * caller's role may see, and events without a valid token never reach the event store. Listener ids are replaced
 * by pseudonyms here, the edge, so that no raw id goes further.
 */
export function decisionHandlers({
  engine,
  events,
  playback,
  pseudonyms,
  eventTokens,
  idempotency = new IdempotentDecisions(),
}: DecisionPorts): ServiceHandlers<typeof DecisionService> {
  const pseudonymous = (signal: PlaybackSignal) => pseudonymousSignal(signal, pseudonyms);
  return {
    decide: async (request, call) => {
      pseudonymizeRequest(request, pseudonyms);
      const principal = call.values.get(principalKey);
      const decide = async () =>
        signAds(await engine.decide(request, { signal: call.cancellation ?? call.signal }), eventTokens);
      const response = await idempotency.run(principal?.keyId ?? "", request.requestId, decide);
      return visibleTo(principal, response);
    },
    reportEvents: (request) => reportWithTokens(request.events, events, eventTokens),
    reportPlayback: async (request) =>
      create(ReportPlaybackResponseSchema, { accepted: await playback.publish(request.signals.map(pseudonymous)) }),
    // Each signal is published as it arrives (agents react to playback live); an invalid message ends the stream
    // with INVALID_ARGUMENT and the ones before it stay published.
    streamPlayback: async (requests) => {
      let accepted = 0;
      for await (const request of requests) accepted += await playback.publish([pseudonymous(request.signal!)]);
      return create(StreamPlaybackResponseSchema, { accepted });
    },
  };
}

/**
 * Every ad gets its token, and its tracking URLs carry it. The engine's response is left as it is (a copy with
 * new ad objects is returned): an engine that hands out a shared or cached pod must not see it signed again on
 * every call (the benchmark's fixed-pod engine did, and its URLs grew by a token per call).
 */
export function signAds(response: DecideResponse, tokens: EventTokens): DecideResponse {
  if (response.ads.length === 0) return response;
  const ads = response.ads.map((ad) => {
    const token = tokens.sign(response.decisionId, ad.creativeId);
    const t = ad.tracking;
    if (!t) return { ...ad, eventToken: token };
    const sign = (urls: string[]) => urls.map((url) => withEventToken(url, token));
    const tracking = {
      ...t,
      impression: sign(t.impression),
      start: sign(t.start),
      firstQuartile: sign(t.firstQuartile),
      midpoint: sign(t.midpoint),
      thirdQuartile: sign(t.thirdQuartile),
      complete: sign(t.complete),
      skip: sign(t.skip),
      click: sign(t.click),
    };
    return { ...ad, eventToken: token, tracking };
  });
  return { ...response, ads };
}

/**
 * The explanation a caller may see: admin keys everything; an advertiser key only its own advertiser's candidate
 * lines (other campaigns' bids, values and vetoes are other tenants' business); any other key the summary.
 * The response may be shared (idempotency), so it is copied, never changed.
 */
function visibleTo(principal: Principal | undefined, response: DecideResponse): DecideResponse {
  const explanation = response.explanation;
  if (!explanation || principal?.role === "admin") return response;
  const candidates =
    principal?.role === "advertiser"
      ? explanation.candidates.filter((c) => c.advertiserId === principal.advertiserId)
      : [];
  return { ...response, explanation: { ...explanation, candidates } };
}

const tokenRejections: Record<Exclude<EventTokenCheck, { ok: true }>["reason"], EventRejection> = {
  missing: EventRejection.MISSING_TOKEN,
  malformed: EventRejection.INVALID_TOKEN,
  unknown_key: EventRejection.INVALID_TOKEN,
  mismatch: EventRejection.INVALID_TOKEN,
  expired: EventRejection.EXPIRED_TOKEN,
};

/** Events whose token fails are rejected here (named reason) and never stored; the rest go to the event sink. */
export async function reportWithTokens(all: readonly AdEvent[], sink: EventSink, tokens: EventTokens) {
  const results: EventResult[] = new Array(all.length);
  const passed: AdEvent[] = [];
  const passedAt: number[] = [];
  const receiptLocators = new Map<string, string>();
  all.forEach((e, i) => {
    const check = tokens.verify(e.eventToken, e.decisionId, e.creativeId);
    if (check.ok) {
      passed.push(e);
      passedAt.push(i);
      if (check.receiptLocator !== undefined) receiptLocators.set(e.decisionId, check.receiptLocator);
    } else
      results[i] = create(EventResultSchema, {
        eventId: e.eventId,
        status: EventResult_Status.REJECTED,
        rejection: tokenRejections[check.reason],
        reason: check.message,
      });
  });
  if (passed.length > 0) {
    const stored = await sink.report(create(ReportEventsRequestSchema, { events: passed }), receiptLocators);
    stored.results.forEach((r, k) => {
      results[passedAt[k]!] = r;
    });
  }
  const count = (s: EventResult_Status) => results.filter((r) => r.status === s).length;
  return create(ReportEventsResponseSchema, {
    accepted: count(EventResult_Status.ACCEPTED),
    duplicates: count(EventResult_Status.DUPLICATE),
    rejected: count(EventResult_Status.REJECTED),
    results,
  });
}
