import { connect } from "@nats-io/transport-node";
import { onShutdown, signalReady } from "../../lib/process/child-lifecycle.ts";

/**
 * Ceiling 2: the fan-out Chorus's parallel mode is built on. FANOUT responders (default 5), each on its own
 * connection as an agent process would be, each echoing the payload it gets on `bench.echo.<i>`.
 */
const natsUrl = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const fanout = Number(process.env.FANOUT ?? 5);
const connections = await Promise.all(
  Array.from({ length: fanout }, (_, i) => connect({ servers: natsUrl, name: `bench-echo-${i}` })),
);
connections.forEach((nc, i) => {
  nc.subscribe(`bench.echo.${i}`, {
    callback: (_err, msg) => {
      msg.respond(msg.data);
    },
  });
});
await Promise.all(connections.map((nc) => nc.flush()));
signalReady({ subjects: connections.map((_, i) => `bench.echo.${i}`) });
onShutdown(async () => {
  await Promise.allSettled(connections.map((nc) => nc.drain()));
});
