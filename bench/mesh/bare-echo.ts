import { onShutdown, signalReady } from "../../lib/process/child-lifecycle.ts";
import { bareHttp2EchoServer } from "../gateway/echo-service.ts";

/**
 * Ceiling 0, the floor of any gRPC service on node:http2: the bare stream API answering each request with its own
 * body and gRPC trailers, no protobuf, no framework. A child process of the benchmark, measured by the same client.
 */
const server = bareHttp2EchoServer();
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address() as { port: number };
signalReady({ url: `http://127.0.0.1:${port}` });
onShutdown(() => new Promise<void>((resolve) => server.close(() => resolve())));
