import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Http2UnaryTarget } from "./http2-unary-target.ts";
import { summarize } from "./latency-histogram.ts";
import { LoadClient, type StepResult } from "./load-client-handle.ts";
import { runOpenLoop } from "./open-loop.ts";
import { rawHttp2Sender } from "./raw-http2-sender.ts";

/**
 * A real node:http2 server answering as an overloaded gRPC server does, by the order it sees streams: the first of
 * every four refused at once with trailers-only RESOURCE_EXHAUSTED (8), the second refused UNAVAILABLE (14) in
 * trailers after its headers, the rest answered OK (0) after 40 ms, except the third stream, never answered.
 */
let seen = 0;
const server = http2.createServer();
server.on("stream", (stream) => {
  stream.on("error", () => {}); // the unanswered stream is reset by the client's deadline
  stream.resume();
  const n = seen++;
  if (n % 4 === 0) {
    stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "8" }, { endStream: true });
    return;
  }
  if (n === 2) return;
  const answer = (status: string) => {
    if (stream.destroyed) return;
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": status }));
    stream.end(status === "0" ? Buffer.alloc(5) : undefined); // an empty message, gRPC-framed
  };
  if (n % 4 === 1) answer("14");
  else setTimeout(() => answer("0"), 40);
});
let target: Http2UnaryTarget;

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  target = {
    kind: "http2-unary",
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    path: "/chorus.v1.DecisionService/Decide",
    protocol: "grpc",
    bodies: [Buffer.from("x").toString("base64")],
    sessions: 2,
    timeoutMs: 1_000,
  };
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** 80 calls: 20 refused 8, 20 refused 14, 39 answered, 1 timed out. */
function expectClassified(result: StepResult | Awaited<ReturnType<typeof runOpenLoop>>) {
  expect(result).toMatchObject({ issued: 80, completed: 39, errors: 41, timeouts: 1 });
  expect(result.errorCounts).toEqual({ "grpc-status 8": 20, "grpc-status 14": 20, timeout: 1 });
  expect(result.refusals.totalCount).toBe(40);
  expect(result.latency.totalCount).toBe(39);
  // Refusals come back at once, answers after the server's 40 ms: their latencies are kept apart (compared with
  // each other: both count from the intended send time, so a busy machine delays both alike).
  const answered = summarize(result.latency).p50;
  expect(answered).toBeGreaterThanOrEqual(39);
  expect(summarize(result.refusals).p50).toBeLessThan(answered - 15);
}

describe("refusal classification", () => {
  it("refusal classification - the raw sender's gRPC statuses: refusals counted and timed apart, timeouts apart", async () => {
    seen = 0;
    const { send, close } = await rawHttp2Sender(target);
    const result = await runOpenLoop({ rate: 400, durationMs: 200, send });
    close();
    expectClassified(result);
  });

  it("refusal classification - through two load client processes, window by window, merged", async () => {
    const client = await LoadClient.start(2);
    try {
      // A first step warms the fresh processes (connections, JIT), as any run's warm-up does.
      await client.run(target, 400, 100);
      seen = 0;
      const windows: StepResult[] = [];
      const result = await client.run(target, 400, 200, undefined, {
        windowMs: 100,
        onWindow: (w, i) => {
          windows[i] = w;
        },
      });
      expectClassified(result);
      // Every call in exactly one window, refusals included.
      expect(windows.length).toBeGreaterThanOrEqual(2);
      expect(windows.reduce((a, w) => a + w.issued, 0)).toBe(80);
      expect(windows.reduce((a, w) => a + w.refusals.totalCount, 0)).toBe(40);
      expect(windows.reduce((a, w) => a + w.timeouts, 0)).toBe(1);
    } finally {
      await client.close();
    }
  });
});
