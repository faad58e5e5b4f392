import { createServer as createHttp2Server, type Http2Server } from "node:http2";
import {
  create,
  createFileRegistry,
  type DescMessage,
  type DescMethodUnary,
  type DescService,
  fromBinary,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, file_google_protobuf_wrappers, StringValueSchema } from "@bufbuild/protobuf/wkt";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";

/**
 * The baselines' echo RPC, `bench.v1.EchoService/Echo(google.protobuf.StringValue) returns (StringValue)`,
 * described in code so that no benchmark-only .proto enters the contracts.
 */
export const EchoService: DescService = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "bench/v1/echo.proto",
    package: "bench.v1",
    syntax: "proto3",
    dependency: ["google/protobuf/wrappers.proto"],
    service: [
      {
        name: "EchoService",
        method: [
          { name: "Echo", inputType: ".google.protobuf.StringValue", outputType: ".google.protobuf.StringValue" },
        ],
      },
    ],
  }),
  (name) => (name === "google/protobuf/wrappers.proto" ? file_google_protobuf_wrappers : undefined),
).getService("bench.v1.EchoService")!;

export const echoPath = "/bench.v1.EchoService/Echo";

/** connect-node with its defaults, on node:http2 cleartext: serves the echo over Connect, gRPC and gRPC-Web. */
export function connectEchoServer(): Http2Server {
  return createHttp2Server(
    connectNodeAdapter({
      routes: (router) =>
        router.rpc(EchoService.methods[0] as DescMethodUnary, async (request: MessageShape<DescMessage>) => request),
    }),
  );
}

/** Bare node:http2 (stream API): reads the body, answers it back with gRPC-style trailers. No protobuf. */
export function bareHttp2EchoServer(): Http2Server {
  const server = createHttp2Server();
  server.on("stream", (stream) => {
    // Under overload nghttp2 refuses or resets streams: without a listener that 'error' ends the process.
    stream.on("error", () => {});
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      // A client that gave up (timeout, cancel) destroyed the stream: answering it would throw.
      if (stream.destroyed) return;
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(Buffer.concat(chunks));
    });
  });
  return server;
}

/** @grpc/grpc-js serving the echo, (de)serialising with protobuf-es like everything else here. */
export function grpcJsEchoServer(): grpc.Server {
  const server = new grpc.Server();
  const codec = {
    serialize: (value: ReturnType<typeof create<typeof StringValueSchema>>) =>
      Buffer.from(toBinary(StringValueSchema, value)),
    deserialize: (bytes: Buffer) => fromBinary(StringValueSchema, bytes),
  };
  server.addService(
    {
      echo: {
        path: echoPath,
        requestStream: false,
        responseStream: false,
        requestSerialize: codec.serialize,
        requestDeserialize: codec.deserialize,
        responseSerialize: codec.serialize,
        responseDeserialize: codec.deserialize,
      },
    },
    {
      echo: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
        callback(null, call.request),
    },
  );
  return server;
}
