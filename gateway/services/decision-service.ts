import { create } from "@bufbuild/protobuf";
import {
  type DecisionService,
  type PlaybackSignal,
  ReportPlaybackResponseSchema,
  StreamPlaybackResponseSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import type { Pseudonyms } from "../../lib/privacy/pseudonyms.ts";
import type { DecisionEngine, EventSink, PlaybackSink } from "../ports.ts";
import type { ServiceHandlers } from "../server/service-impl.ts";
import { pseudonymizeRequest, pseudonymousSignal } from "./pseudonymous-ids.ts";

export interface DecisionPorts {
  engine: DecisionEngine;
  events: EventSink;
  playback: PlaybackSink;
  /** User and session ids are replaced by these before anything else sees them (pseudonymous-ids.ts). */
  pseudonyms: Pseudonyms;
}

/**
 * chorus.v1.DecisionService: the protocol layer's side only. Requests arrive validated; their listener ids are
 * replaced by pseudonyms here, the edge, so that no raw id goes further; the ports do the work.
 * The request's signal (deadline, disconnect) reaches the engine.
 */
export function decisionHandlers({
  engine,
  events,
  playback,
  pseudonyms,
}: DecisionPorts): ServiceHandlers<typeof DecisionService> {
  const pseudonymous = (signal: PlaybackSignal) => pseudonymousSignal(signal, pseudonyms);
  return {
    decide: (request, call) => {
      pseudonymizeRequest(request, pseudonyms);
      return engine.decide(request, { signal: call.signal });
    },
    reportEvents: (request) => events.report(request),
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
