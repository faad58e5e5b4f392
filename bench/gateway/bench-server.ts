/**
 * One benchmark server per process (`tsx bench/gateway/bench-server.ts <kind>`), so its CPU time is its own.
 * IPC protocol with run-gateway-bench.ts: the child sends {port} when listening; "start" resets the CPU clock;
 * "stop" answers {cpuMicros} (user + system since "start"); "exit" exits normally (so --cpu-prof writes its file).
 */
import { randomBytes } from "node:crypto";
import { ServerCredentials } from "@grpc/grpc-js";
import { jetstream } from "@nats-io/jetstream";
import { newEventTokenKey } from "../../gateway/auth/event-token.ts";
import { openGatewayAuth } from "../../gateway/auth/gateway-auth.ts";
import { NatsPlaybackSink } from "../../gateway/playback/nats-playback-sink.ts";
import { startGateway } from "../../gateway/start-gateway.ts";
import { MemoryEventSink } from "../../gateway/testing/memory-event-sink.ts";
import { CatalogStore, openCatalogBucket } from "../../lib/catalog/catalog-store.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { connectNats } from "../../lib/nats/connect.ts";
import { Pseudonyms } from "../../lib/privacy/pseudonyms.ts";
import { bareHttp2EchoServer, connectEchoServer, grpcJsEchoServer } from "./echo-service.ts";
import { FixedPodEngine } from "./fixed-pod-engine.ts";

export const serverKinds = ["bare-http2", "connect-node", "grpc-js", "gateway", "gateway-connect-node-only"] as const;
export type ServerKind = (typeof serverKinds)[number];

let apiKey = "";

async function listen(kind: ServerKind): Promise<number> {
  switch (kind) {
    case "bare-http2":
    case "connect-node": {
      const server = kind === "bare-http2" ? bareHttp2EchoServer() : connectEchoServer();
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      return (server.address() as { port: number }).port;
    }
    case "grpc-js": {
      const server = grpcJsEchoServer();
      return new Promise((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) =>
          err ? reject(err) : resolve(port),
        ),
      );
    }
    case "gateway":
    case "gateway-connect-node-only": {
      const nc = await connectNats({ servers: process.env.BENCH_NATS_URL!, name: "bench-gateway" });
      const trust = await openGatewayAuth(jetstream(nc), { eventTokenKeys: newEventTokenKey("bench") });
      // The load client's key: unlimited rate, so the bench measures the gateway and not the limiter.
      const made = await trust.apiKeys.admin.create({
        name: "gateway bench",
        role: "decide",
        rateLimit: { perSecond: 0, burst: 0 },
      });
      await trust.apiKeys.directory.waitFor(made.record.id, (r) => r !== undefined);
      apiKey = made.key;
      const gateway = await startGateway({
        pseudonyms: new Pseudonyms(randomBytes(32)),
        auth: trust.auth,
        apiKeys: trust.apiKeys,
        eventTokens: trust.eventTokens,
        port: 0,
        engine: new FixedPodEngine(),
        events: new MemoryEventSink(),
        playback: new NatsPlaybackSink(nc),
        catalog: new CatalogStore(await openCatalogBucket(jetstream(nc))),
        logger: createLogger("bench-gateway", "warn"),
        fastPath: kind === "gateway",
      });
      return gateway.port;
    }
  }
}

const kind = process.argv[2] as ServerKind;
if (!serverKinds.includes(kind)) throw new Error(`unknown server kind "${kind}"; one of ${serverKinds.join(", ")}`);
const port = await listen(kind);
let since = process.cpuUsage();
process.on("message", (message) => {
  if (message === "start") since = process.cpuUsage();
  if (message === "stop") {
    const used = process.cpuUsage(since);
    process.send!({ cpuMicros: used.user + used.system });
  }
  if (message === "exit") process.exit(0);
});
process.send!({ port, apiKey });
