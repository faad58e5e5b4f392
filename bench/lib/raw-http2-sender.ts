import { DeadlineSweeper } from "./deadline-sweeper.ts";
import type { Http2UnaryTarget, Shard } from "./http2-unary-target.ts";
import { unaryRequestHeaders } from "./http2-unary-target.ts";
import { type BodyTemplate, bodyTemplates, type CounterField, writeCounters } from "./numbered-bodies.ts";
import type { Done, Send } from "./open-loop.ts";
import { RawHttp2Connection, type RawStream, type RequestBody } from "./raw-http2-connection.ts";
import { UnaryCall } from "./unary-call.ts";

/** Request number `n`: its template copied straight into the connection's output, its counters rewritten there. */
class NumberedBody implements RequestBody {
  readonly length: number;
  constructor(
    private readonly template: BodyTemplate,
    private readonly fields: readonly CounterField[],
    private readonly n: number,
  ) {
    this.length = template.framed.length;
  }

  writeTo(out: Buffer, at: number): void {
    this.template.framed.copy(out, at);
    writeCounters(out, at, this.template, this.fields, this.n);
  }
}

interface Sent {
  connection: RawHttp2Connection;
  stream: RawStream;
}

/**
 * The bench's default load client: unary RPCs (gRPC or Connect) over RawHttp2Connection, with the same requests,
 * numbering, timeouts and results as http2-unary-sender.ts (node:http2) at a fraction of its CPU per request, so
 * that the client does not take the cores it measures. `windowBytes` is the client's receive window (tests);
 * `onSold` is given the message of every answer with ads (a gRPC target's single message, unframed).
 */
export async function rawHttp2Sender(
  target: Http2UnaryTarget,
  shard: Shard = { index: 0, count: 1 },
  { windowBytes, onSold }: { windowBytes?: number; onSold?: (message: Buffer) => void } = {},
): Promise<{ send: Send; close(): void }> {
  const url = new URL(target.url);
  const host = url.hostname;
  const port = Number(url.port || 80);
  const headers: [string, string][] = [[":scheme", "http"], [":authority", url.host], ...unaryRequestHeaders(target)];
  const open = () => new RawHttp2Connection({ host, port, headers, windowBytes });
  const connections = Array.from({ length: target.sessions }, open);
  try {
    await Promise.all(connections.map((c) => c.ready));
  } catch (err) {
    for (const c of connections) c.close();
    throw err;
  }
  const grpc = target.protocol === "grpc";
  const countAds = target.countAds === true;
  const fields = target.fields ?? [];
  const templates = bodyTemplates(target.bodies, fields, grpc);
  let counter = 0;
  const deadlines = new DeadlineSweeper<Sent>(target.timeoutMs, {
    closed: ({ stream }) => stream.closed,
    cancel: ({ connection, stream }) => connection.cancel(stream, "timeout"),
  });

  const send: Send = (done: Done) => {
    const local = counter++;
    const n = local * shard.count + shard.index;
    const slot = local % connections.length;
    let connection = connections[slot]!;
    // A connection the server closed or is closing (GOAWAY) fails what it could not finish, not every later
    // request: the next request on its slot opens a new one, as a gRPC channel would.
    if (connection.state === "draining" || connection.state === "closed") {
      connection = open();
      connections[slot] = connection;
    }
    const body = new NumberedBody(templates[local % templates.length]!, fields, n);
    const stream = connection.request(body, new UnaryCall(done, grpc, countAds, onSold));
    if (!stream.closed) deadlines.add({ connection, stream });
  };
  return {
    send,
    close: () => {
      deadlines.stop();
      for (const c of connections) c.close();
    },
  };
}
