import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { wireBytesOf } from "../../lib/codecs/wire/wire-bytes.ts";
import { decodeBinary } from "./grpc-unary.ts";

describe("decodeBinary", () => {
  it("keeps the bytes a request was decoded from, so the AuctionOutcome can embed them unchanged", () => {
    const sent = toBinary(DecideRequestSchema, create(DecideRequestSchema, { requestId: "r-1" }));
    const request = decodeBinary(DecideRequestSchema, sent);
    expect(request.requestId).toBe("r-1");
    expect(wireBytesOf(request)).toBe(sent);
  });

  it("answers bytes that do not parse with INTERNAL, as connect-es and grpc-go do", () => {
    const bad = new Uint8Array([0x0a, 0x05, 0x61]);
    expect(() => decodeBinary(DecideRequestSchema, bad)).toThrow(ConnectError);
    try {
      decodeBinary(DecideRequestSchema, bad);
    } catch (err) {
      expect((err as ConnectError).code).toBe(Code.Internal);
    }
  });
});
