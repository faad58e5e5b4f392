import { create } from "@bufbuild/protobuf";
import {
  type DecisionService,
  ReportPlaybackResponseSchema,
  StreamPlaybackResponseSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import type { EventSink } from "../../ledger/ports.ts";
import type { DecisionEngine, PlaybackSink } from "../server/ports.ts";
import type { ServiceHandlers } from "../server/service-impl.ts";

export interface DecisionPorts {
  engine: DecisionEngine;
  events: EventSink;
  playback: PlaybackSink;
}

/**
 * chorus.v1.DecisionService: the protocol layer's side only. Requests arrive validated; the ports do the work.
 * The request's signal (deadline, disconnect) reaches the engine.
 */
export function decisionHandlers({ engine, events, playback }: DecisionPorts): ServiceHandlers<typeof DecisionService> {
  return {
    decide: (request, call) => engine.decide(request, { signal: call.signal }),
    reportEvents: (request) => events.report(request),
    reportPlayback: async (request) =>
      create(ReportPlaybackResponseSchema, { accepted: await playback.publish(request.signals) }),
    // Each signal is published as it arrives (agents react to playback live); an invalid message ends the stream
    // with INVALID_ARGUMENT and the ones before it stay published.
    streamPlayback: async (requests) => {
      let accepted = 0;
      for await (const request of requests) accepted += await playback.publish([request.signal!]);
      return create(StreamPlaybackResponseSchema, { accepted });
    },
  };
}
