import type {
  DescMessage,
  DescMethodClientStreaming,
  DescMethodUnary,
  DescService,
  MessageShape,
} from "@bufbuild/protobuf";
import type { ContextValues } from "@connectrpc/connect";
import type { Cancellation } from "./ports.ts";
import type { RequestValidator } from "./request-validator.ts";

/**
 * What a handler gets besides the request: a signal aborted on deadline (DEADLINE_EXCEEDED), disconnect or
 * shutdown, and the call's context values (the caller's principal: gateway/auth `principalKey`).
 */
export interface Call {
  readonly signal: AbortSignal;
  readonly values: ContextValues;
  /**
   * The same state as `signal` without building one, where the server offers it (the unary fast path): what a
   * handler that only checks whether its call was cancelled should read (gateway/server/lazy-abort.ts says why).
   */
  readonly cancellation?: Cancellation;
}

export type UnaryFn<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> = (
  request: MessageShape<I>,
  call: Call,
) => Promise<MessageShape<O>>;

export type ClientStreamFn<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  call: Call,
) => Promise<MessageShape<O>>;

/**
 * A service implementation both protocol stacks can call: connect-node's router (its HandlerContext has `signal`,
 * and `values`, so these functions are valid connect handlers) and the gateway's unary fast path.
 */
export type ServiceHandlers<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends DescMethodUnary<infer I, infer O>
    ? UnaryFn<I, O>
    : S["method"][K] extends DescMethodClientStreaming<infer I, infer O>
      ? ClientStreamFn<I, O>
      : never;
};

/** A service and its handlers, every request validated with protovalidate before a handler sees it. */
export interface ServedService<S extends DescService = DescService> {
  readonly service: S;
  readonly handlers: ServiceHandlers<S>;
}

export function validatedService<S extends DescService>(
  service: S,
  handlers: ServiceHandlers<S>,
  validate: RequestValidator,
): ServedService<S> {
  const wrapped: Record<string, unknown> = {};
  const raw = handlers as unknown as Record<string, UnaryFn | ClientStreamFn>;
  for (const method of service.methods) {
    const fn = raw[method.localName];
    if (!fn) continue;
    if (method.methodKind === "unary") {
      const unary = fn as UnaryFn;
      wrapped[method.localName] = (request: MessageShape<DescMessage>, call: Call) => {
        validate(method.input, request);
        return unary(request, call);
      };
    } else if (method.methodKind === "client_streaming") {
      const stream = fn as ClientStreamFn;
      wrapped[method.localName] = (requests: AsyncIterable<MessageShape<DescMessage>>, call: Call) =>
        stream(validateEach(method.input, requests, validate), call);
    }
  }
  return { service, handlers: wrapped as ServiceHandlers<S> };
}

async function* validateEach(
  schema: DescMessage,
  requests: AsyncIterable<MessageShape<DescMessage>>,
  validate: RequestValidator,
): AsyncIterable<MessageShape<DescMessage>> {
  for await (const request of requests) {
    validate(schema, request);
    yield request;
  }
}
