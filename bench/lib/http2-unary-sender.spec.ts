import http2 from "node:http2";
import type { Socket } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecideRequestSchema, DecideResponseSchema, DecisionService } from "../../gen/chorus/v1/decision_pb.ts";
import { http2UnarySender } from "./http2-unary-sender.ts";

const seen: string[] = [];
const routes = (router: ConnectRouter) =>
  router.service(DecisionService, {
    decide: async (request, context) => {
      seen.push(request.requestId);
      if (request.user?.userId === "bad") throw new ConnectError("no", Code.InvalidArgument);
      // "slow" never answers on its own: only the client's cancel ends it.
      if (request.user?.userId === "slow")
        await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
      return create(DecideResponseSchema, { decisionId: request.requestId });
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

describe("http2 unary sender", () => {
  for (const protocol of ["grpc", "connect"] as const) {
    it(`http2 unary sender - ${protocol}: unique request ids, a server error is a rejection`, async () => {
      seen.length = 0;
      const { send, close } = await http2UnarySender({
        kind: "http2-unary",
        url,
        path: "/chorus.v1.DecisionService/Decide",
        protocol,
        bodies: [body("good")],
        uniqueField: { offset: 5, length: 4 },
        sessions: 2,
        timeoutMs: 2_000,
      });
      await Promise.all([send(), send(), send()]);
      expect(seen.sort()).toEqual(["id-0000", "id-0001", "id-0002"]);
      close();
      const bad = await http2UnarySender({
        kind: "http2-unary",
        url,
        path: "/chorus.v1.DecisionService/Decide",
        protocol,
        bodies: [body("bad")],
        sessions: 1,
        timeoutMs: 2_000,
      });
      await expect(bad.send()).rejects.toThrow(protocol === "grpc" ? /grpc-status 3/ : /http 400/);
      bad.close();
    });
  }

  it("http2 unary sender - a request past its timeout is cancelled and rejected", async () => {
    const { send, close } = await http2UnarySender({
      kind: "http2-unary",
      url,
      path: "/chorus.v1.DecisionService/Decide",
      protocol: "grpc",
      bodies: [body("slow")],
      sessions: 1,
      timeoutMs: 200,
    });
    const started = performance.now();
    await expect(send()).rejects.toThrow(/timeout/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(performance.now() - started).toBeLessThan(1_000);
    close();
  });

  it("http2 unary sender - a session the server closes is replaced for the next requests", async () => {
    const { send, close } = await http2UnarySender({
      kind: "http2-unary",
      url,
      path: "/chorus.v1.DecisionService/Decide",
      protocol: "grpc",
      bodies: [body("good")],
      sessions: 1,
      timeoutMs: 2_000,
    });
    await send();
    // The server drops every connection (as an overloaded or restarting server may).
    for (const socket of openSockets) socket.destroy();
    await new Promise((r) => setTimeout(r, 50));
    await send();
    await send();
    close();
  });
});
