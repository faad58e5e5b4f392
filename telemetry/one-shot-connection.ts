import { connect, type NatsConnection } from "@nats-io/transport-node";

/** NATS for a one-shot tool (the CLI): fail fast instead of reconnecting forever, always close. */
export async function withConnection<T>(servers: string, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers, name: "chorus-cli", maxReconnectAttempts: 0 }).catch((err: unknown) => {
    throw new Error(`cannot connect to NATS at ${servers}: ${err instanceof Error ? err.message : String(err)}`);
  });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}
