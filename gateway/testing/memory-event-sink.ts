import { create } from "@bufbuild/protobuf";
import {
  EventResult_Status,
  EventResultSchema,
  type ReportEventsRequest,
  type ReportEventsResponse,
  ReportEventsResponseSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import type { EventSink } from "../../ledger/ports.ts";

/** A test double for the ledger's EventSink: remembers event ids in memory and counts repeats as duplicates. */
export class MemoryEventSink implements EventSink {
  readonly seen = new Set<string>();

  async report(request: ReportEventsRequest): Promise<ReportEventsResponse> {
    const response = create(ReportEventsResponseSchema);
    for (const event of request.events) {
      const duplicate = this.seen.has(event.eventId);
      this.seen.add(event.eventId);
      if (duplicate) response.duplicates++;
      else response.accepted++;
      response.results.push(
        create(EventResultSchema, {
          eventId: event.eventId,
          status: duplicate ? EventResult_Status.DUPLICATE : EventResult_Status.ACCEPTED,
        }),
      );
    }
    return response;
  }
}
