import http2 from "node:http2";
import type { Socket } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecideRequestSchema, DecideResponseSchema, DecisionService } from "../../gen/chorus/v1/decision_pb.ts";
import { countField2 } from "./count-ads.ts";
import { http2UnarySender } from "./http2-unary-sender.ts";
import { writeDigits } from "./numbered-bodies.ts";
import type { Send } from "./open-loop.ts";
import { rawHttp2Sender } from "./raw-http2-sender.ts";

/** One call as a promise: the ads of the response, or a rejection with the sender's error. */
const call = (send: Send) =>
  new Promise<number>((resolve, reject) =>
    send((error, ads) => (error === undefined ? resolve(ads) : reject(new Error(error)))),
  );

const seen: string[] = [];
const users: string[] = [];
const routes = (router: ConnectRouter) =>
  router.service(DecisionService, {
    decide: async (request, context) => {
      seen.push(request.requestId);
      users.push(request.user?.userId ?? "");
      if (request.user?.userId === "bad") throw new ConnectError("no", Code.InvalidArgument);
      // "slow" never answers on its own: only the client's cancel ends it.
      if (request.user?.userId === "slow")
        await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
      return create(DecideResponseSchema, {
        decisionId: request.requestId,
        ads: Array.from({ length: Number(request.requestId.slice(-1)) % 3 }, (_, i) => ({ sequence: i + 1 })),
      });
    },
  });
const server = http2.createServer(connectNodeAdapter({ routes }));
const openSockets = new Set<Socket>();
server.on("connection", (socket: Socket) => {
  openSockets.add(socket);
  socket.on("close", () => openSockets.delete(socket));
});
let url = "";

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const body = (userId: string) =>
  Buffer.from(
    toBinary(DecideRequestSchema, create(DecideRequestSchema, { requestId: "id-0000", user: { userId } })),
  ).toString("base64");

// Both load clients, judged by the same tests: the same requests, the same results, the same error names.
const senders = [
  ["node-http2", http2UnarySender],
  ["raw-http2", rawHttp2Sender],
] as const;

describe.each(senders)("http2 unary sender (%s)", (client, sender) => {
  for (const protocol of ["grpc", "connect"] as const) {
    it(`http2 unary sender - ${client} ${protocol}: unique request ids, users from a pool, ads counted, errors named`, async () => {
      seen.length = 0;
      users.length = 0;
      const { send, close } = await sender({
        kind: "http2-unary",
        url,
        path: "/chorus.v1.DecisionService/Decide",
        protocol,
        bodies: [body("user-00")],
        fields: [
          { marker: "id-", digits: 4 },
          { marker: "user-", digits: 2, pool: 100 },
        ],
        countAds: true,
        sessions: 2,
        timeoutMs: 2_000,
      });
      const ads = await Promise.all([call(send), call(send), call(send)]);
      expect(seen.sort()).toEqual(["id-0000", "id-0001", "id-0002"]);
      expect(ads).toEqual([0, 1, 2]);
      // Consecutive requests are different users of the pool.
      expect(new Set(users).size).toBe(3);
      expect(users.every((u) => /^user-\d\d$/.test(u))).toBe(true);
      close();
      const bad = await sender({
        kind: "http2-unary",
        url,
        path: "/chorus.v1.DecisionService/Decide",
        protocol,
        bodies: [body("bad")],
        sessions: 1,
        timeoutMs: 2_000,
      });
      await expect(call(bad.send)).rejects.toThrow(protocol === "grpc" ? /grpc-status 3/ : /http 400/);
      bad.close();
    });
  }

  it(`http2 unary sender - ${client}: a request past its timeout is cancelled and rejected`, async () => {
    const { send, close } = await sender({
      kind: "http2-unary",
      url,
      path: "/chorus.v1.DecisionService/Decide",
      protocol: "grpc",
      bodies: [body("slow")],
      sessions: 1,
      timeoutMs: 200,
    });
    const started = performance.now();
    await expect(call(send)).rejects.toThrow(/timeout/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(performance.now() - started).toBeLessThan(1_000);
    close();
  });

  it(`http2 unary sender - ${client}: a session the server closes is replaced for the next requests`, async () => {
    const { send, close } = await sender({
      kind: "http2-unary",
      url,
      path: "/chorus.v1.DecisionService/Decide",
      protocol: "grpc",
      bodies: [body("good")],
      sessions: 1,
      timeoutMs: 2_000,
    });
    await call(send);
    // The server drops every connection (as an overloaded or restarting server may).
    for (const socket of openSockets) socket.destroy();
    await new Promise((r) => setTimeout(r, 50));
    await call(send);
    await call(send);
    close();
  });
});

describe("http2 unary sender", () => {
  it("http2 unary sender - counts a DecideResponse's ads as fromBinary does, and refuses what is not a message", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ sequence: fc.nat(), creativeId: fc.string() }), { maxLength: 5 }),
        fc.string(),
        fc.integer({ min: 0, max: 9 }),
        (ads, decisionId, noFill) => {
          const bytes = toBinary(
            DecideResponseSchema,
            create(DecideResponseSchema, { decisionId, ads, noFillReason: noFill, nextBreakOffsetMs: 7 }),
          );
          const framed = new Uint8Array(5 + bytes.length);
          framed.set(bytes, 5);
          expect(countField2(framed, 5)).toBe(ads.length);
        },
      ),
    );
    expect(countField2(Uint8Array.of(0x12, 0x05, 0x01), 0)).toBe(-1);
  });

  it("http2 unary sender - digits are written in place, the low ones kept", () => {
    const buffer = Buffer.from("id-xxxx");
    writeDigits(buffer, 3, 4, 123_456);
    expect(buffer.toString()).toBe("id-3456");
  });
});
