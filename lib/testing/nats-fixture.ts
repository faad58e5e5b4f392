import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { connectNats, type NatsConnection } from "../nats/connect.ts";
import { NatsServerProcess } from "../nats/nats-server-process.ts";

/** A private nats-server (JetStream on, free port, temp store) and a connection to it, for one test file. */
export interface NatsFixture {
  server: NatsServerProcess;
  nc: NatsConnection;
  js: JetStreamClient;
  /** A further connection (a second process's view), closed by cleanup. */
  connect(name?: string): Promise<NatsConnection>;
  cleanup(): Promise<void>;
}

export async function startNats(): Promise<NatsFixture> {
  const server = await new NatsServerProcess().start();
  const connections: NatsConnection[] = [];
  const connect = async (name = "test") => {
    const nc = await connectNats({ servers: server.url, name });
    connections.push(nc);
    return nc;
  };
  const nc = await connect();
  return {
    server,
    nc,
    js: jetstream(nc),
    connect,
    async cleanup() {
      await Promise.allSettled(connections.map((c) => c.close()));
      await server.stop();
    },
  };
}
