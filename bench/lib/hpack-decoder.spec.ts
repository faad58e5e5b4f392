import http2 from "node:http2";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HpackDecoder } from "./hpack-decoder.ts";
import { RawHttp2Connection, type StreamHandler } from "./raw-http2-connection.ts";

type Fields = [string, string][];
interface Exchange {
  headers: Fields;
  trailers: Fields;
  /** Names node:http2 must send as never-indexed literals (http2.sensitiveHeaders). */
  sensitive: string[];
}

// What the server answers on the n-th stream of the current connection (stream id 2n + 1).
let exchanges: Exchange[] = [];
const server = http2.createServer();
server.on("stream", (stream) => {
  stream.resume();
  stream.on("end", () => {
    const exchange = exchanges[(stream.id! - 1) / 2]!;
    const headers: http2.OutgoingHttpHeaders = { ":status": 200, ...Object.fromEntries(exchange.headers) };
    (headers as Record<symbol, unknown>)[http2.sensitiveHeaders] = exchange.sensitive;
    stream.respond(headers, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers(Object.fromEntries(exchange.trailers)));
    stream.end("x");
  });
});
let port = 0;
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** Collects each stream's decoded header blocks. */
class Recorder implements StreamHandler {
  readonly blocks: string[][] = [];
  constructor(private readonly settle: (error: string | undefined) => void) {}
  onHeaders(fields: string[]): void {
    this.blocks.push(fields);
  }
  onData(): void {}
  onClose(error: string | undefined): void {
    this.settle(error);
  }
}

const pairs = (flat: string[]) => {
  const out: Fields = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
};
const sorted = (fields: Fields) => [...fields].sort((a, b) => (a.join("\n") < b.join("\n") ? -1 : 1));

// Names nghttp2 indexes or finds in the static table, and free ones; values often repeated (dynamic table hits),
// sometimes long (too big for a small table), of characters with short and long Huffman codes.
const name = fc.oneof(
  fc.constantFrom("cache-control", "etag", "vary", "link", "server", "content-language", "grpc-message"),
  fc.stringMatching(/^x-[a-z0-9-]{1,24}$/),
);
const value = fc.oneof(
  fc.constantFrom("0", "max-age=60", "application/grpc", "a", "~~~~{{}}||"),
  fc.stringMatching(/^[!-~]{0,40}$/),
  fc.stringMatching(/^[a-z0-9]{100,400}$/),
);
const fields = (minLength: number, maxLength: number) =>
  fc.uniqueArray(fc.tuple(name, value), { minLength, maxLength, selector: ([n]) => n });
// At least one trailer: with none, node:http2 ends the stream with an empty DATA frame instead.
const exchange: fc.Arbitrary<Exchange> = fields(0, 8).chain((headers) =>
  fc.record({
    headers: fc.constant(headers),
    trailers: fields(1, 4),
    sensitive: fc.subarray(headers.map(([n]) => n)),
  }),
);

describe("hpack decoder", () => {
  it("hpack decoder - decodes what nghttp2's encoder sends, dynamic table and Huffman included, at any table size", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(exchange, { minLength: 1, maxLength: 25 }),
        fc.constantFrom(undefined, 0, 64, 256, 1024),
        async (sequence, headerTableSize) => {
          exchanges = sequence;
          const connection = new RawHttp2Connection({
            host: "127.0.0.1",
            port,
            headers: [
              [":scheme", "http"],
              [":authority", `127.0.0.1:${port}`],
              [":method", "POST"],
              [":path", "/hpack"],
            ],
            headerTableSize,
          });
          try {
            // One after another: the n-th stream gets the n-th exchange, and the table carries over between them.
            for (const expected of sequence) {
              const recorder = await new Promise<Recorder>((resolve, reject) => {
                const r: Recorder = new Recorder((error) => (error ? reject(new Error(error)) : resolve(r)));
                connection.request({ length: 0, writeTo() {} }, r);
              });
              expect(recorder.blocks).toHaveLength(2);
              // node:http2 adds a date header to every response.
              const headers = pairs(recorder.blocks[0]!).filter(([n]) => n !== "date");
              expect(sorted(headers)).toEqual(sorted([[":status", "200"], ...expected.headers]));
              expect(sorted(pairs(recorder.blocks[1]!))).toEqual(sorted(expected.trailers));
            }
          } finally {
            connection.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("hpack decoder - refuses malformed blocks", () => {
    // An index past the static table with an empty dynamic table.
    expect(() => new HpackDecoder().decode(Uint8Array.of(0x80 | 62))).toThrow(/out of range/);
    // A string longer than the block.
    expect(() => new HpackDecoder().decode(Uint8Array.of(0x00, 0x03, 0x61))).toThrow(/truncated/);
    // A size update above what this side announced.
    expect(() => new HpackDecoder(256).decode(Uint8Array.of(0x3f, 0xe2, 0x1f))).toThrow(/above/);
    // Huffman padding that is not all ones ("a" is 00011, then 000 instead of 111).
    expect(() => new HpackDecoder().decode(Uint8Array.of(0x00, 0x01, 0x61, 0x81, 0x18))).toThrow(/padding/);
  });
});
