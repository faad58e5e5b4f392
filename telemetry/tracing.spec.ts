import { Writable } from "node:stream";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsFixture, startNats } from "../lib/testing/nats-fixture.ts";
import { runLogger } from "./run-logger.ts";
import {
  RUN_ID_ATTRIBUTE,
  setupTracing,
  startDecideSpan,
  type Tracing,
  tracedRequest,
  withExtractedContext,
} from "./tracing.ts";

describe("tracing", () => {
  let nats: NatsFixture;
  let tracing: Tracing;
  const exporter = new InMemorySpanExporter();

  beforeAll(async () => {
    nats = await startNats();
    tracing = setupTracing({ serviceName: "tracing-spec", exporter });
  });
  afterAll(async () => {
    await tracing.shutdown();
    await nats.cleanup();
  });

  it("tracing - a NATS responder's consumer span is a child of the requester's span and carries the run id", async () => {
    const responder = await nats.connect("responder");
    const sub = responder.subscribe("spec.echo");
    (async () => {
      for await (const msg of sub) {
        await withExtractedContext(msg, "process spec.echo", () => msg.respond(msg.data));
      }
    })();
    await responder.flush();

    const reply = await startDecideSpan("run-42", () =>
      tracedRequest(nats.nc, "spec.echo", new TextEncoder().encode("hi"), { timeout: 2_000, runId: "run-42" }),
    );
    expect(new TextDecoder().decode(reply.data)).toBe("hi");
    await tracing.flush();

    const spans = exporter.getFinishedSpans();
    const decide = spans.find((s) => s.name === "chorus.decide")!;
    const send = spans.find((s) => s.name === "send spec.echo")!;
    const process = spans.find((s) => s.name === "process spec.echo")!;
    expect(decide && send && process).toBeTruthy();
    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(process.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
    expect(send.parentSpanContext?.spanId).toBe(decide.spanContext().spanId);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(process.attributes[RUN_ID_ATTRIBUTE]).toBe("run-42");
    expect(decide.attributes[RUN_ID_ATTRIBUTE]).toBe("run-42");
  });

  it("tracing - a message without trace headers starts a new trace", async () => {
    exporter.reset();
    const responder = await nats.connect("plain");
    const sub = responder.subscribe("spec.plain", { max: 1 });
    const done = (async () => {
      for await (const msg of sub) await withExtractedContext(msg, "process spec.plain", () => msg.respond());
    })();
    await responder.flush();
    await nats.nc.request("spec.plain", undefined, { timeout: 2_000 });
    await done;
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe("process spec.plain");
    expect(span?.parentSpanContext).toBeUndefined();
    expect(span?.attributes[RUN_ID_ATTRIBUTE]).toBeUndefined();
  });

  it("tracing - a failing handler ends its span with ERROR status", async () => {
    exporter.reset();
    await expect(
      withExtractedContext({ subject: "spec.fail", headers: undefined }, "process spec.fail", () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const [span] = exporter.getFinishedSpans();
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.events[0]?.name).toBe("exception");
  });

  it("tracing - a run logger's lines carry the run id and the active trace id", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const traceId = await startDecideSpan("run-7", (span) => {
      runLogger(pino(sink), "run-7").info("decided");
      return span.spanContext().traceId;
    });
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line.run_id).toBe("run-7");
    expect(line.trace_id).toBe(traceId);
  });
});
