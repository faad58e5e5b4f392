import { randomBytes } from "node:crypto";
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
import { onShutdown, signalReady } from "../../lib/process/child-lifecycle.ts";
import { FixedPodEngine } from "../gateway/fixed-pod-engine.ts";

/**
 * Ceiling 1, the echo RPC on the gateway's own stack: the real gateway (startGateway: protocol demux, fast path,
 * validation, encoding) with an engine that answers a fixed 3-ad pod at once. Decide over the mesh divided by
 * this is what the decision itself costs. A child process of the benchmark; NATS_URL for the catalog and key
 * buckets; it reports the API key the load client sends.
 */
const nc = await connectNats({
  servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  name: "bench-instant-gateway",
});
const trust = await openGatewayAuth(jetstream(nc), {
  eventTokenKeys: process.env.EVENT_TOKEN_KEYS || newEventTokenKey("bench"),
});
// The load client's key, unlimited: the ceiling measures the gateway's stack, not the rate limiter.
const made = await trust.apiKeys.admin.create({
  name: "mesh bench",
  role: "decide",
  rateLimit: { perSecond: 0, burst: 0 },
});
await trust.apiKeys.directory.waitFor(made.record.id, (r) => r !== undefined);
const gateway = await startGateway({
  pseudonyms: new Pseudonyms(randomBytes(32)),
  auth: trust.auth,
  apiKeys: trust.apiKeys,
  eventTokens: trust.eventTokens,
  host: "127.0.0.1",
  port: 0,
  engine: new FixedPodEngine(),
  events: new MemoryEventSink(),
  playback: new NatsPlaybackSink(nc),
  catalog: new CatalogStore(await openCatalogBucket(jetstream(nc))),
  logger: createLogger("bench-instant-gateway", "warn"),
});
signalReady({ url: gateway.url, apiKey: made.key });
onShutdown(async () => {
  await gateway.close();
  await nc.close();
});
