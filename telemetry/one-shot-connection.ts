import { connect, type NatsConnection } from "@nats-io/transport-node";
import { authConnectionOptions } from "../lib/nats/connect-options.ts";
import { toolNatsAccess } from "../lib/nats/local-mesh.ts";

/**
 * NATS for a one-shot tool (the CLI): fail fast instead of reconnecting forever, always close. Credentials come
 * from the environment (NATS_CREDS, NATS_NKEY_SEED_FILE, NATS_USER/NATS_PASSWORD, NATS_TLS_*) or, for the mesh
 * `npm start` runs from this checkout, its operator identity (lib/nats/local-mesh.ts).
 */
export async function withConnection<T>(servers: string, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const access = toolNatsAccess(servers);
  const nc = await connect({
    servers: access.url.split(",").map((s) => s.trim()),
    name: "chorus-cli",
    maxReconnectAttempts: 0,
    ...authConnectionOptions(access.auth),
  }).catch((err: unknown) => {
    throw new Error(
      `cannot connect to NATS at ${access.url} (${access.auth.describe}): ${err instanceof Error ? err.message : String(err)}`,
    );
  });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}
