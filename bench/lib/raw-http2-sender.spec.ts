import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningChild, startChild, stopChild } from "../../lib/process/launcher.ts";
import type { Http2UnaryTarget } from "./http2-unary-target.ts";
import type { Send } from "./open-loop.ts";
import { rawHttp2Sender } from "./raw-http2-sender.ts";

/** One call as a promise: the ads of the response, or a rejection with the sender's error. */
const call = (send: Send) =>
  new Promise<number>((resolve, reject) =>
    send((error, ads) => (error === undefined ? resolve(ads) : reject(new Error(error)))),
  );

const target = (url: string, over: Partial<Http2UnaryTarget> = {}): Http2UnaryTarget => ({
  kind: "http2-unary",
  url,
  path: "/bench.v1.EchoService/Echo",
  protocol: "grpc",
  bodies: [Buffer.from("hello").toString("base64")],
  sessions: 1,
  timeoutMs: 5_000,
  ...over,
});

/** A gRPC-style answer with an empty body, status 0 in the trailers. */
function answer(stream: http2.ServerHttp2Stream): void {
  if (stream.destroyed) return;
  stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
  stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
  stream.end();
}

/** A node:http2 server on a free port, its streams handled by `onStream`. */
async function serve(onStream: (stream: http2.ServerHttp2Stream) => void, settings?: http2.Settings) {
  const server = http2.createServer({ settings });
  server.on("stream", (stream) => {
    stream.on("error", () => {}); // the streams a test resets or abandons
    onStream(stream);
  });
  // A session that sent GOAWAY is not closed by node:http2 when the client goes: the test ends it.
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const close = () => {
    for (const session of sessions) session.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  };
  return { server, url, close };
}

describe("raw http2 sender", () => {
  let echo: RunningChild;
  beforeAll(async () => {
    echo = await startChild({ name: "bare-echo", entry: "bench/mesh/bare-echo" });
  });
  afterAll(() => stopChild(echo.process));

  it("raw http2 sender - bodies far larger than both sides' windows go through whole (flow control both ways)", async () => {
    // 300 field-2 entries of 1,000 bytes: the echo sends the body back, and the ad count proves every byte came
    // through (the server's window is 65,535 bytes, the client's 16 KiB).
    const entry = Buffer.concat([Buffer.of(0x12, 0xe8, 0x07), Buffer.alloc(1000, 7)]);
    const message = Buffer.concat(Array.from({ length: 300 }, () => entry));
    const { send, close } = await rawHttp2Sender(
      target(String(echo.ready.url), { bodies: [message.toString("base64")], countAds: true, sessions: 2 }),
      undefined,
      { windowBytes: 16 * 1024 },
    );
    const ads = await Promise.all(Array.from({ length: 20 }, () => call(send)));
    expect(ads).toEqual(Array(20).fill(300));
    close();
  });

  it("raw http2 sender - ads are counted in a message that came whole, or in frames; more than one message is not an answer", async () => {
    // Two ads (field 2) in a gRPC message: whole in one DATA frame, split over two, or followed by a second message.
    const message = Buffer.of(0x12, 0x01, 0x07, 0x12, 0x01, 0x08);
    const framed = Buffer.concat([Buffer.of(0, 0, 0, 0, message.length), message]);
    const layouts = { whole: [framed], split: [framed.subarray(0, 4), framed.subarray(4)], two: [framed, framed] };
    let layout: Buffer[] = [];
    const { url, close: stop } = await serve((stream) => {
      stream.resume();
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      // Each part its own DATA frame: written one per turn of the loop.
      const parts = [...layout];
      const next = () => {
        const part = parts.shift()!;
        if (parts.length === 0) stream.end(part);
        else stream.write(part, () => setTimeout(next, 5));
      };
      next();
    });
    const { send, close } = await rawHttp2Sender(target(url, { countAds: true }));
    const ads: Record<string, number> = {};
    for (const [name, parts] of Object.entries(layouts)) {
      layout = parts;
      ads[name] = await call(send);
    }
    expect(ads).toEqual({ whole: 2, split: 2, two: -1 });
    close();
    await stop();
  });

  it("raw http2 sender - streams the server resets fail with the code, the others and later ones succeed", async () => {
    let n = 0;
    const { url, close: stop } = await serve((stream) => {
      stream.resume();
      if (n++ % 2 === 1) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      else answer(stream);
    });
    const { send, close } = await rawHttp2Sender(target(url));
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => call(send)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(5);
    for (const r of results.filter((r) => r.status === "rejected"))
      expect((r as PromiseRejectedResult).reason.message).toBe("reset 7");
    close();
    await stop();
  });

  it("raw http2 sender - after a GOAWAY, streams it did not take fail and the next requests use a new connection", async () => {
    let n = 0;
    const { url, close: stop } = await serve((stream) => {
      stream.resume();
      // The third stream: the server takes the first two only, and refuses this one.
      if (++n === 3) {
        stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id! - 2);
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      } else answer(stream);
    });
    const { send, close } = await rawHttp2Sender(target(url));
    await call(send);
    await call(send);
    await expect(call(send)).rejects.toThrow("goaway 0");
    await call(send);
    await call(send);
    expect(n).toBe(5);
    close();
    await stop();
  });

  it("raw http2 sender - a connection dropped mid-request fails its streams at once, and is replaced", async () => {
    let n = 0;
    const { url, close: stop } = await serve((stream) => {
      stream.resume();
      if (++n === 1) stream.session?.destroy();
      else answer(stream);
    });
    const { send, close } = await rawHttp2Sender(target(url, { timeoutMs: 10_000 }));
    const started = performance.now();
    await expect(call(send)).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(5_000);
    await call(send);
    close();
    await stop();
  });

  it("raw http2 sender - keeps to the server's concurrent stream limit, answers its PINGs", async () => {
    let open = 0;
    let most = 0;
    let pinged: Promise<void> | undefined;
    const { url, close: stop } = await serve(
      (stream) => {
        stream.resume();
        pinged ??= new Promise((resolve, reject) => stream.session?.ping((err) => (err ? reject(err) : resolve())));
        most = Math.max(most, ++open);
        setTimeout(() => {
          open--;
          answer(stream);
        }, 20);
      },
      { maxConcurrentStreams: 2 },
    );
    const { send, close } = await rawHttp2Sender(target(url));
    await Promise.all(Array.from({ length: 10 }, () => call(send)));
    expect(most).toBe(2);
    await pinged;
    close();
    await stop();
  });
});
