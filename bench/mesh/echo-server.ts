import http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { DecideResponseSchema, DecisionService } from "../../gen/chorus/v1/decision_pb.ts";
import { onShutdown, signalReady } from "../../lib/process/child-lifecycle.ts";

/**
 * Ceiling 1 (stand-in): node:http2 + connect-node serving Connect, gRPC and gRPC-Web, decoding the same
 * DecideRequest and answering at once, with no decision behind it. The gateway's own stack adds a unary fast path
 * on top of connect-node, so this ceiling is conservative until the gateway exposes an echo method to measure.
 */
const routes = (router: ConnectRouter) =>
  router.service(DecisionService, {
    decide: (request) => create(DecideResponseSchema, { decisionId: request.requestId, coordination: "echo" }),
  });

const server = http2.createServer(connectNodeAdapter({ routes }));
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  signalReady({ url: `http://127.0.0.1:${port}` });
});
onShutdown(() => new Promise((resolve) => server.close(() => resolve())));
