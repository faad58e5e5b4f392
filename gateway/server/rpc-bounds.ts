import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { LazyAbort } from "./lazy-abort.ts";
import type { Call, ClientStreamFn, ServedService, UnaryFn } from "./service-impl.ts";

export interface RpcBounds {
  /** Server-side deadline of every unary call without one of its own (GATEWAY_RPC_DEADLINE_MS). */
  deadlineMs: number;
  /** A client stream (StreamPlayback) ends with DEADLINE_EXCEEDED after this long (GATEWAY_STREAM_MAX_MS). */
  streamMaxMs: number;
  /** Messages one client stream may send (GATEWAY_STREAM_MAX_MESSAGES); past it RESOURCE_EXHAUSTED. */
  streamMaxMessages: number;
  /**
   * Messages per second one client stream is read at (GATEWAY_STREAM_MAX_PER_SECOND): faster senders are paced, the
   * gateway reads no further until a token is due, and HTTP/2 flow control pushes back on the client.
   */
  streamPerSecond: number;
}

export const DEFAULT_RPC_BOUNDS: RpcBounds = {
  deadlineMs: 10_000,
  streamMaxMs: 10 * 60_000,
  streamMaxMessages: 100_000,
  streamPerSecond: 200,
};

/**
 * Every method of a service within its bounds: unary calls get a server-side deadline (methods in `ownDeadline`,
 * Decide, keep theirs), client streams a bound on duration, length and rate. The handler's signal aborts with the
 * deadline, so the work behind it stops too.
 */
export function boundedService(
  served: ServedService,
  bounds: RpcBounds,
  ownDeadline: ReadonlySet<string> = new Set(),
): ServedService {
  const handlers: Record<string, UnaryFn | ClientStreamFn> = {};
  const raw = served.handlers as unknown as Record<string, UnaryFn | ClientStreamFn>;
  for (const method of served.service.methods) {
    const fn = raw[method.localName];
    if (!fn) continue;
    if (method.methodKind === "unary")
      handlers[method.localName] = ownDeadline.has(method.localName)
        ? fn
        : (request: MessageShape<DescMessage>, call: Call) =>
            withDeadline(bounds.deadlineMs, call, (c) => (fn as UnaryFn)(request, c));
    else if (method.methodKind === "client_streaming")
      handlers[method.localName] = (requests: AsyncIterable<MessageShape<DescMessage>>, call: Call) =>
        withDeadline(bounds.streamMaxMs, call, (c) => (fn as ClientStreamFn)(paced(requests, bounds, c.signal), c));
    else handlers[method.localName] = fn;
  }
  return { service: served.service, handlers: handlers as never };
}

/**
 * Runs `work` with a signal that also aborts after `ms`; the call fails with DEADLINE_EXCEEDED at that moment. The
 * combined signal is built only if the handler reads `signal` (lazy-abort.ts says why); `cancellation` tells the
 * same without one.
 */
async function withDeadline<T>(ms: number, call: Call, work: (call: Call) => Promise<T>): Promise<T> {
  const deadline = new LazyAbort();
  const outer = call.cancellation ?? call.signal;
  let signal: AbortSignal | undefined;
  const bounded: Call = {
    values: call.values,
    cancellation: {
      get aborted() {
        return deadline.aborted || outer.aborted;
      },
      get reason() {
        return deadline.aborted ? deadline.reason : outer.reason;
      },
    },
    get signal() {
      signal ??= AbortSignal.any([call.signal, deadline.signal]);
      return signal;
    },
  };
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new ConnectError(`server deadline of ${ms} ms exceeded`, Code.DeadlineExceeded);
      deadline.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([work(bounded), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** The stream's messages, at most `streamMaxMessages` and no faster than `streamPerSecond` (a token bucket). */
async function* paced<M>(requests: AsyncIterable<M>, bounds: RpcBounds, signal: AbortSignal): AsyncIterable<M> {
  let count = 0;
  const burst = Math.max(1, bounds.streamPerSecond);
  let tokens = burst;
  let at = performance.now();
  for await (const request of requests) {
    if (++count > bounds.streamMaxMessages)
      throw new ConnectError(
        `a stream may carry at most ${bounds.streamMaxMessages} messages: open a new one`,
        Code.ResourceExhausted,
      );
    const now = performance.now();
    tokens = Math.min(burst, tokens + ((now - at) * bounds.streamPerSecond) / 1000);
    at = now;
    if (tokens < 1) {
      const waitMs = ((1 - tokens) * 1000) / bounds.streamPerSecond;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, waitMs);
        signal.addEventListener(
          "abort",
          () => {
            clearTimeout(t);
            reject(signal.reason);
          },
          { once: true },
        );
      });
      tokens = 1;
      at = performance.now();
    }
    tokens -= 1;
    if (signal.aborted) throw signal.reason;
    yield request;
  }
}
