import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { trace } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { setupTracing, startDecideSpan } from "./tracing.ts";

describe("tracing exporters", () => {
  it("tracing exporters - otlp sends spans to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces", async () => {
    const bodies: { url: string; body: Buffer }[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        bodies.push({ url: req.url ?? "", body: Buffer.concat(chunks) });
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const tracing = setupTracing({
      serviceName: "chorus-otlp-spec",
      env: { OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: endpoint },
    });
    try {
      expect(tracing.enabled).toBe(true);
      await startDecideSpan("run-otlp", () => {});
      await tracing.flush();
      expect(bodies).toHaveLength(1);
      expect(bodies[0]!.url).toBe("/v1/traces");
      expect(bodies[0]!.body.includes("chorus-otlp-spec")).toBe(true);
      expect(bodies[0]!.body.includes("run-otlp")).toBe(true);
    } finally {
      await tracing.shutdown();
      collector.close();
    }
  });

  it("tracing exporters - none registers nothing: spans do not record", async () => {
    const tracing = setupTracing({ serviceName: "x", env: { OTEL_TRACES_EXPORTER: "none" } });
    expect(tracing.enabled).toBe(false);
    const recording = await startDecideSpan("run-none", (span) => span.isRecording());
    expect(recording).toBe(false);
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  it("tracing exporters - an unknown exporter is a configuration error naming the variable", () => {
    expect(() => setupTracing({ serviceName: "x", env: { OTEL_TRACES_EXPORTER: "jaeger" } })).toThrow(
      /OTEL_TRACES_EXPORTER="jaeger": must be one of otlp, console, none/,
    );
  });
});
