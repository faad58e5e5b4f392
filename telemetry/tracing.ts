/**
 * OpenTelemetry tracing for every Chorus process, and W3C trace context carried in NATS message headers.
 *
 * Exporters follow the OpenTelemetry SDK environment spec: OTEL_TRACES_EXPORTER = otlp | console | none (default
 * none: nothing is registered and every helper below costs a no-op), OTEL_EXPORTER_OTLP_ENDPOINT for OTLP/HTTP,
 * OTEL_SERVICE_NAME to override the process's own name.
 *
 * A decision's run id rides along as the `chorus-run-id` header, so every consumer span (one per agent that
 * answered) carries `chorus.run_id` without decoding the payload.
 */

import { headers, type Msg, type MsgHdrs, type NatsConnection, type RequestOptions } from "@nats-io/nats-core";
import {
  type Attributes,
  type Context,
  context,
  propagation,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { loadConfig, parsers } from "../lib/config/config.ts";

/** Span attribute naming the decision a span belongs to. */
export const RUN_ID_ATTRIBUTE = "chorus.run_id";
/** Span attribute naming the agent that produced a span. */
export const AGENT_ATTRIBUTE = "chorus.agent";
/** NATS header carrying the run id next to `traceparent`. */
export const RUN_ID_HEADER = "chorus-run-id";

export const tracingConfigSchema = {
  exporter: {
    env: "OTEL_TRACES_EXPORTER",
    default: "none" as "otlp" | "console" | "none",
    parse: parsers.oneOf("otlp", "console", "none"),
    help: "where spans go: otlp (OTLP/HTTP), console (stdout) or none",
  },
  endpoint: {
    env: "OTEL_EXPORTER_OTLP_ENDPOINT",
    default: "",
    parse: parsers.string,
    help: "OTLP/HTTP base URL, e.g. http://collector:4318 (the exporter appends /v1/traces); empty = exporter default",
  },
  serviceName: {
    env: "OTEL_SERVICE_NAME",
    default: "",
    parse: parsers.string,
    help: "overrides the process's service name in every span",
  },
};

export interface TracingOptions {
  /** This process's service name: "chorus-gateway", "chorus-agent-bidding", ... */
  serviceName: string;
  /** Use this exporter (synchronously, span by span) instead of the configured one; tests pass an in-memory one. */
  exporter?: SpanExporter;
  env?: NodeJS.ProcessEnv;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Exports what is buffered. */
  flush(): Promise<void>;
  /** Flushes, then unregisters the global provider so that a later setupTracing() can register again. */
  shutdown(): Promise<void>;
}

const disabled: Tracing = { enabled: false, flush: async () => {}, shutdown: async () => {} };

/** Registers the process-wide tracer provider, W3C trace-context propagator and async-hooks context manager. */
export function setupTracing(options: TracingOptions): Tracing {
  const config = loadConfig(tracingConfigSchema, options.env);
  const processor = spanProcessor(config, options.exporter);
  if (processor === undefined) return disabled;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName || options.serviceName }),
    spanProcessors: [processor],
  });
  provider.register();
  return {
    enabled: true,
    flush: () => provider.forceFlush(),
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

function spanProcessor(
  config: { exporter: "otlp" | "console" | "none"; endpoint: string },
  exporter: SpanExporter | undefined,
): SpanProcessor | undefined {
  if (exporter !== undefined) return new SimpleSpanProcessor(exporter);
  switch (config.exporter) {
    case "none":
      return undefined;
    case "console":
      return new SimpleSpanProcessor(new ConsoleSpanExporter());
    case "otlp":
      return new BatchSpanProcessor(
        new OTLPTraceExporter(config.endpoint ? { url: `${config.endpoint.replace(/\/$/, "")}/v1/traces` } : {}),
      );
  }
}

export function tracer() {
  return trace.getTracer("chorus");
}

/**
 * Runs `fn` in a new active span; records an exception and ERROR status if it throws, and always ends the span.
 * `parent` defaults to the active context.
 */
export async function inSpan<T>(
  name: string,
  options: SpanOptions,
  fn: (span: Span) => Promise<T> | T,
  parent: Context = context.active(),
): Promise<T> {
  return tracer().startActiveSpan(name, options, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The root span of one decision in the gateway: every agent span of that decision becomes its descendant. */
export function startDecideSpan<T>(
  runId: string,
  fn: (span: Span) => Promise<T> | T,
  attributes: Attributes = {},
): Promise<T> {
  return inSpan(
    "chorus.decide",
    { kind: SpanKind.SERVER, attributes: { ...attributes, [RUN_ID_ATTRIBUTE]: runId } },
    fn,
  );
}

const setter: TextMapSetter<MsgHdrs> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

/**
 * What extraction needs of a received message: nats-core's Msg, and @nats-io/services' ServiceMsg (typed against
 * its own nats-core release) both fit.
 */
export interface TracedMsg {
  readonly subject: string;
  readonly headers?: HeaderReader;
}

interface HeaderReader {
  get(key: string): string;
  keys(): string[];
}

const getter: TextMapGetter<HeaderReader> = {
  keys: (carrier) => carrier.keys(),
  // MsgHdrs.get answers "" for a missing key; the propagator expects undefined.
  get: (carrier, key) => carrier.get(key) || undefined,
};

/** Writes the active trace context (traceparent, tracestate) and the run id into NATS headers for a publish. */
export function natsTraceHeaders(runId?: string, into: MsgHdrs = headers()): MsgHdrs {
  propagation.inject(context.active(), into, setter);
  if (runId) into.set(RUN_ID_HEADER, runId);
  return into;
}

/** The run id a sender put in the headers, or "" when absent. */
export function runIdOf(hdrs: HeaderReader | undefined): string {
  return hdrs?.get(RUN_ID_HEADER) ?? "";
}

/**
 * Runs `fn` in a CONSUMER span whose parent is the trace context found in the message headers (a new trace when
 * there is none). The span carries `chorus.run_id` from the headers and the subject.
 */
export function withExtractedContext<T>(
  msg: TracedMsg,
  name: string,
  fn: (span: Span) => Promise<T> | T,
  attributes: Attributes = {},
): Promise<T> {
  const parent = msg.headers ? propagation.extract(context.active(), msg.headers, getter) : context.active();
  const runId = runIdOf(msg.headers);
  return inSpan(
    name,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.system": "nats",
        "messaging.destination.name": msg.subject,
        ...(runId ? { [RUN_ID_ATTRIBUTE]: runId } : {}),
        ...attributes,
      },
    },
    fn,
    parent,
  );
}

/**
 * A NATS request inside a PRODUCER span, with the span's context and the run id in the headers: the responder's
 * `withExtractedContext` span becomes this span's child.
 */
export function tracedRequest(
  nc: NatsConnection,
  subject: string,
  payload: Uint8Array,
  options: RequestOptions & { runId?: string; attributes?: Attributes },
): Promise<Msg> {
  const { runId, attributes, ...requestOptions } = options;
  return inSpan(
    `send ${subject}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        "messaging.system": "nats",
        "messaging.destination.name": subject,
        ...(runId ? { [RUN_ID_ATTRIBUTE]: runId } : {}),
        ...attributes,
      },
    },
    () => nc.request(subject, payload, { ...requestOptions, headers: natsTraceHeaders(runId, requestOptions.headers) }),
  );
}

/** trace_id / span_id of the active span, for log lines (empty object when there is none). */
export function activeTraceIds(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
