import { fromJsonString, type JsonReadOptions, toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJsonBytes, parseTimeout } from "@connectrpc/connect/protocol-connect";
import { encodeResponse } from "./encode-response.ts";
import { decodeBinary } from "./grpc-unary.ts";
import type { UnaryProtocol } from "./unary-protocol.ts";

const maxTimeoutMs = 2 ** 31 - 1;
// connect-node's defaults, so both paths accept the same JSON (unknown fields are ignored).
const jsonRead: Partial<JsonReadOptions> = { ignoreUnknownFields: true };

/**
 * The Connect protocol (https://connectrpc.com/docs/protocol) for one unary POST with identity encoding: the body
 * is the message (binary or JSON), errors are a JSON body with the HTTP status of their code. Codes match
 * connect-node's handler: unparseable binary is INTERNAL, unparseable JSON is INVALID_ARGUMENT. One instance per
 * content type, shared by all calls.
 */
export function connectUnary(binary: boolean): UnaryProtocol {
  const contentType = binary ? "application/proto" : "application/json";
  return {
    envelope: false,
    timeoutHeader: "connect-timeout-ms",
    parseTimeout: (value) => parseTimeout(value ?? null, maxTimeoutMs),
    messageLength: () => undefined,
    parse(schema, body) {
      if (binary) return decodeBinary(schema, body);
      try {
        return fromJsonString(schema, body.toString("utf8"), jsonRead);
      } catch (err) {
        throw ConnectError.from(err, Code.InvalidArgument);
      }
    },
    respond(stream, schema, message) {
      const body = binary ? encodeResponse(schema, message) : Buffer.from(toJsonString(schema, message));
      stream.respond({ ":status": 200, "content-type": contentType, "content-length": body.byteLength });
      stream.end(body);
    },
    fail(stream, error) {
      const body = errorToJsonBytes(error, undefined);
      const headers: Record<string, string | number> = {};
      error.metadata.forEach((value, key) => {
        headers[key] = value;
      });
      headers[":status"] = codeToHttpStatus(error.code);
      headers["content-type"] = "application/json";
      headers["content-length"] = body.byteLength;
      stream.respond(headers);
      stream.end(body);
    },
  };
}
