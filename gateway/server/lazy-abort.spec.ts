import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  DecisionService,
  ReportEventsRequestSchema,
  type ReportEventsResponse,
  ReportEventsResponseSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import { LazyAbort } from "./lazy-abort.ts";
import { boundedService } from "./rpc-bounds.ts";
import type { Call, ServedService } from "./service-impl.ts";

describe("lazy abort - a call's cancellation without an AbortSignal until one is asked for", () => {
  it("a signal asked for after the abort is born aborted with the reason; one asked for before is aborted", () => {
    const late = new LazyAbort();
    late.abort("first");
    late.abort("second");
    expect([late.aborted, late.reason]).toEqual([true, "first"]);
    expect(late.signal.aborted).toBe(true);
    expect(late.signal.reason).toBe("first");

    const early = new LazyAbort();
    const signal = early.signal;
    let heard: unknown;
    signal.addEventListener("abort", () => {
      heard = signal.reason;
    });
    expect(signal.aborted).toBe(false);
    early.abort("gone");
    expect(heard).toBe("gone");
    expect(early.signal).toBe(signal);
  });
});

describe("lazy abort - the server deadline of a bounded unary handler", () => {
  /** ReportEvents bounded at `ms`, its handler waiting until its call says it was cancelled. */
  const bounded = (ms: number, wait: (call: Call) => Promise<unknown>) => {
    const served = {
      service: DecisionService,
      handlers: {
        reportEvents: async (_request: unknown, call: Call): Promise<ReportEventsResponse> => {
          await wait(call);
          return create(ReportEventsResponseSchema);
        },
      },
    } as unknown as ServedService;
    const handlers = boundedService(served, {
      deadlineMs: ms,
      streamMaxMs: 60_000,
      streamMaxMessages: 10,
      streamPerSecond: 10,
    }).handlers as unknown as Record<string, (r: unknown, c: Call) => Promise<unknown>>;
    return handlers.reportEvents!;
  };
  /** A call as the fast path makes one: its cancellation, and a signal built from it on demand. */
  const callOf = (outer: LazyAbort): Call => ({
    values: createContextValues(),
    cancellation: outer,
    get signal() {
      return outer.signal;
    },
  });
  const aborted = (signal: AbortSignal) =>
    new Promise<unknown>((resolve) => signal.addEventListener("abort", () => resolve(signal.reason)));

  it("a handler that listens gets a real signal, aborted by the deadline; one that polls sees it too", async () => {
    let heard: Promise<unknown> | undefined;
    let polled: Call["cancellation"];
    const handler = bounded(50, (call) => {
      polled = call.cancellation;
      heard = aborted(call.signal);
      return heard;
    });
    const outer = new LazyAbort();
    const call = callOf(outer);
    await expect(handler(create(ReportEventsRequestSchema), call)).rejects.toMatchObject({
      code: Code.DeadlineExceeded,
    });
    expect(ConnectError.from(await heard).code).toBe(Code.DeadlineExceeded);
    expect(polled!.aborted).toBe(true);
    expect(ConnectError.from(polled!.reason).code).toBe(Code.DeadlineExceeded);
    expect(outer.aborted).toBe(false); // the deadline is the handler's, not the caller's
  });

  it("the caller's cancellation reaches a handler that listens and one that polls, before the deadline", async () => {
    const outer = new LazyAbort();
    const call = callOf(outer);
    let polled: Call["cancellation"];
    const handler = bounded(10_000, (c) => {
      polled = c.cancellation;
      return aborted(c.signal);
    });
    const done = handler(create(ReportEventsRequestSchema), call);
    outer.abort(new ConnectError("the client closed the stream", Code.Canceled));
    await done; // the handler's signal was aborted by the caller's
    expect(polled!.aborted).toBe(true);
    expect(ConnectError.from(polled!.reason).code).toBe(Code.Canceled);
  });
});
