import type { ServerHttp2Stream } from "node:http2";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { decodeMessage } from "../../lib/codecs/registry.ts";
import { rememberWireBytes } from "../../lib/codecs/wire/wire-bytes.ts";
import { encodeResponse } from "./encode-response.ts";
import type { UnaryProtocol } from "./unary-protocol.ts";

const maxTimeoutMs = 2 ** 31 - 1; // setTimeout's limit; grpc-timeout allows up to 99999999 hours
const okTrailers = { "grpc-status": "0" };

function sendOkTrailers(this: ServerHttp2Stream): void {
  this.sendTrailers(okTrailers);
}

/**
 * The gRPC protocol (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md) for one unary call with
 * identity encoding: exactly one 5-byte length-prefixed message each way, status in trailers, errors as a
 * trailers-only response. Error codes match connect-node's gRPC handler, so a client sees the same status whichever
 * path served it: an unparseable message is INTERNAL ("parse binary"), a compressed flag without grpc-encoding is
 * INTERNAL, no message or two messages is UNIMPLEMENTED, a truncated envelope is INVALID_ARGUMENT, a message over
 * the limit is RESOURCE_EXHAUSTED. One instance per response content type, shared by all calls.
 */
export function grpcUnary(contentType: string): UnaryProtocol {
  const okHeaders = { ":status": 200, "content-type": contentType };
  return {
    envelope: true,
    timeoutHeader: "grpc-timeout",
    parseTimeout: (value) => parseTimeout(value ?? null, maxTimeoutMs),
    messageLength: (head) => (head.byteLength < 5 ? undefined : head.readUInt32BE(1)),
    parse(schema, body) {
      if (body.byteLength === 0)
        throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
      if (body.byteLength < 5) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
      const length = body.readUInt32BE(1);
      if (body.byteLength < 5 + length)
        throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
      if (body.byteLength > 5 + length)
        throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
      if ((body[0]! & 0b1) === 1)
        throw new ConnectError(
          "received compressed envelope, but do not know how to decompress (no grpc-encoding)",
          Code.Internal,
        );
      return decodeBinary(schema, body.subarray(5));
    },
    respond(stream, schema, message) {
      const bytes = encodeResponse(schema, message);
      const frame = Buffer.allocUnsafe(5 + bytes.byteLength);
      frame[0] = 0;
      frame.writeUInt32BE(bytes.byteLength, 1);
      frame.set(bytes, 5);
      stream.respond(okHeaders, { waitForTrailers: true });
      stream.once("wantTrailers", sendOkTrailers);
      stream.end(frame);
    },
    fail(stream, error) {
      const headers: Record<string, string | number> = { ":status": 200, "content-type": contentType };
      setTrailerStatus(new Headers(), error).forEach((value, key) => {
        headers[key] = value;
      });
      // Trailers-only response: one HEADERS frame with END_STREAM, the form gRPC clients expect for an error.
      stream.respond(headers, { endStream: true });
    },
  };
}

/** Decodes a request message; the message remembers its bytes (lib/codecs/wire/wire-bytes.ts) for passing it on. */
export function decodeBinary<S extends DescMessage>(schema: S, bytes: Uint8Array): MessageShape<S> {
  try {
    const message = decodeMessage(schema, bytes);
    rememberWireBytes(message, bytes);
    return message;
  } catch (err) {
    // connect-es (protocol/serialization.ts) and grpc-go both answer an unparseable request with INTERNAL.
    throw new ConnectError(`parse binary: ${(err as Error).message}`, Code.Internal);
  }
}
