import { connect } from "node:net";
import { toBinary } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ViolationsSchema } from "../gen/buf/validate/validate_pb.ts";
import type { BreakKind } from "../gen/chorus/v1/common_pb.ts";
import { DecideRequestSchema, DecisionService } from "../gen/chorus/v1/decision_pb.ts";
import { withApiKey } from "./auth/client-key.ts";
import { type GatewayFixture, startGatewayFixture } from "./testing/gateway-fixture.ts";
import { grpcFrame, grpcStatus, rawHttp2Call } from "./testing/raw-http2-call.ts";
import { decideRequest } from "./testing/sample-requests.ts";

const decide = "/chorus.v1.DecisionService/Decide";
const grpc = { "content-type": "application/grpc", te: "trailers" };
const connectProto = { "content-type": "application/proto", "connect-protocol-version": "1" };
const connectJson = { "content-type": "application/json", "connect-protocol-version": "1" };
// Field 1 (request_id), length-delimited, announces 16 bytes and carries one: cannot be parsed.
const garbage = Buffer.from([0x0a, 0x10, 0x01]);
const maxMessageBytes = 4096;

// The same expectations against the fast path and against connect-node alone: both paths must answer alike.
describe.each([
  ["fast path", true],
  ["connect-node only", false],
])("gateway bad input (%s)", (_name, fastPath) => {
  let fx: GatewayFixture;
  let grpcClient: Client<typeof DecisionService>;
  let connectClient: Client<typeof DecisionService>;
  beforeAll(async () => {
    fx = await startGatewayFixture({ limits: { maxMessageBytes }, fastPath });
    // Raw calls carry the key too, so each case reaches the check it is about.
    for (const headers of [grpc, connectProto, connectJson] as Record<string, string>[])
      headers.authorization = `Bearer ${fx.keys.decide}`;
    grpcClient = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(fx.keys.decide)] }),
    );
    connectClient = createClient(
      DecisionService,
      createConnectTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(fx.keys.decide)], httpVersion: "2" }),
    );
  });
  afterAll(() => fx?.cleanup());

  /** After every bad request the gateway still answers a good one, over both protocols. */
  async function expectStillServing() {
    expect((await grpcClient.decide(decideRequest("after-grpc"))).ads).toHaveLength(3);
    expect((await connectClient.decide(decideRequest("after-connect"))).ads).toHaveLength(3);
  }

  it("bad input - unparseable protobuf is INTERNAL over gRPC and Connect (as connect-es and grpc-go)", async () => {
    const viaGrpc = await rawHttp2Call(fx.gateway.url, decide, grpc, grpcFrame(garbage));
    expect(viaGrpc.status).toBe(200);
    expect(grpcStatus(viaGrpc)).toBe(Code.Internal);
    const viaConnect = await rawHttp2Call(fx.gateway.url, decide, connectProto, garbage);
    expect(viaConnect.status).toBe(500);
    expect(JSON.parse(viaConnect.body.toString())).toMatchObject({ code: "internal" });
    await expectStillServing();
  });

  it("bad input - unparseable JSON is INVALID_ARGUMENT", async () => {
    const response = await rawHttp2Call(fx.gateway.url, decide, connectJson, Buffer.from("{not json"));
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body.toString())).toMatchObject({ code: "invalid_argument" });
    await expectStillServing();
  });

  it("bad input - a message over the size limit is RESOURCE_EXHAUSTED", async () => {
    const big = decideRequest("big");
    big.context!.genre = "x".repeat(maxMessageBytes);
    const bytes = toBinary(DecideRequestSchema, big);
    const viaGrpc = await rawHttp2Call(fx.gateway.url, decide, grpc, grpcFrame(bytes));
    expect(grpcStatus(viaGrpc)).toBe(Code.ResourceExhausted);
    await expect(connectClient.decide(big)).rejects.toMatchObject({ code: Code.ResourceExhausted });
    await expectStillServing();
  });

  it("bad input - missing required fields are INVALID_ARGUMENT naming each, with violations as details", async () => {
    for (const client of [grpcClient, connectClient]) {
      const err = await client.decide({}).then(
        () => new ConnectError("unexpectedly accepted"),
        (e: unknown) => ConnectError.from(e),
      );
      expect(err.code).toBe(Code.InvalidArgument);
      for (const field of ["request_id", "placement", "user", "device"]) expect(err.rawMessage).toContain(field);
      const [violations] = err.findDetails(ViolationsSchema);
      expect(violations?.violations.map((v) => v.field?.elements.map((e) => e.fieldName).join("."))).toEqual([
        "request_id",
        "placement",
        "user",
        "device",
      ]);
    }
    await expectStillServing();
  });

  it("bad input - an unknown enum value is INVALID_ARGUMENT (defined_only)", async () => {
    const request = decideRequest("enum");
    request.placement!.breakKind = 99 as BreakKind; // what an older or newer client could send
    for (const client of [grpcClient, connectClient])
      await expect(client.decide(request)).rejects.toMatchObject({
        code: Code.InvalidArgument,
        rawMessage: expect.stringContaining("placement.break_kind"),
      });
    const json = JSON.stringify({ requestId: "x", placement: { breakKind: "BREAK_KIND_NOPE" } });
    const viaJson = await rawHttp2Call(fx.gateway.url, decide, connectJson, Buffer.from(json));
    expect(JSON.parse(viaJson.body.toString())).toMatchObject({ code: "invalid_argument" });
    await expectStillServing();
  });

  it("bad input - an unknown method is UNIMPLEMENTED over gRPC and 404 over Connect", async () => {
    const path = "/chorus.v1.DecisionService/Nope";
    const viaGrpc = await rawHttp2Call(fx.gateway.url, path, grpc, grpcFrame(new Uint8Array()));
    expect(viaGrpc.status).toBe(200);
    expect(grpcStatus(viaGrpc)).toBe(Code.Unimplemented);
    const viaConnect = await rawHttp2Call(fx.gateway.url, path, connectProto, new Uint8Array());
    expect(viaConnect.status).toBe(404);
    await expectStillServing();
  });

  it("bad input - a wrong content type is HTTP 415", async () => {
    const response = await rawHttp2Call(fx.gateway.url, decide, { "content-type": "text/plain" }, Buffer.from("hi"));
    expect(response.status).toBe(415);
    await expectStillServing();
  });

  it("bad input - gRPC envelope errors: compressed flag without encoding, truncated, two messages", async () => {
    const bytes = toBinary(DecideRequestSchema, decideRequest("env"));
    const compressed = await rawHttp2Call(fx.gateway.url, decide, grpc, grpcFrame(bytes, 1));
    expect(grpcStatus(compressed)).toBe(Code.Internal);
    const truncated = await rawHttp2Call(fx.gateway.url, decide, grpc, grpcFrame(bytes).subarray(0, 20));
    expect(grpcStatus(truncated)).toBe(Code.InvalidArgument);
    const two = await rawHttp2Call(fx.gateway.url, decide, grpc, Buffer.concat([grpcFrame(bytes), grpcFrame(bytes)]));
    expect(grpcStatus(two)).toBe(Code.Unimplemented);
    const none = await rawHttp2Call(fx.gateway.url, decide, grpc, new Uint8Array());
    expect(grpcStatus(none)).toBe(Code.Unimplemented);
    await expectStillServing();
  });

  it("bad input - a malformed grpc-timeout is INVALID_ARGUMENT", async () => {
    const bytes = toBinary(DecideRequestSchema, decideRequest("timeout"));
    const response = await rawHttp2Call(fx.gateway.url, decide, { ...grpc, "grpc-timeout": "soon" }, grpcFrame(bytes));
    expect(grpcStatus(response)).toBe(Code.InvalidArgument);
    await expectStillServing();
  });
});

describe("gateway connection handling", () => {
  let fx: GatewayFixture;
  beforeAll(async () => {
    fx = await startGatewayFixture();
  });
  afterAll(() => fx?.cleanup());

  it("connections - garbage bytes get HTTP 400, a reset before any byte is harmless, and the gateway keeps serving", async () => {
    const { port } = fx.gateway;
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => socket.write("\x16\x03\x01 not http at all\r\n\r\n"));
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk.toString("latin1");
      });
      socket.on("close", () => resolve(text));
      socket.on("error", reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    await new Promise<void>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.resetAndDestroy();
        setTimeout(resolve, 50);
      });
    });
    const client = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(fx.keys.decide)] }),
    );
    expect((await client.decide(decideRequest("after-garbage"))).ads).toHaveLength(3);
  });
});
