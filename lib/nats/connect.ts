import { connect, type NatsConnection } from "@nats-io/transport-node";
import { authConnectionOptions, type NatsClientAuth, natsClientAuth } from "./connect-options.ts";
import { requireServerVersion } from "./server-version.ts";

export type { NatsConnection };

export interface ConnectOptions {
  servers: string;
  /** Shown in `nats server report connections`: which process is which. */
  name: string;
  /** Credentials, TLS and inbox prefix; default: from this process's environment (connect-options.ts). */
  auth?: NatsClientAuth;
}

/**
 * Connects with the settings every Chorus process uses: reconnect forever (the gateway keeps serving from its
 * leases while NATS is away), keep trying when the server is not up yet at start (a supervisor may start the
 * processes in any order), short ping interval so a dead server is noticed within seconds. A server older than
 * MIN_NATS_SERVER is refused (server-version.ts).
 */
export async function connectNats({ servers, name, auth = natsClientAuth() }: ConnectOptions): Promise<NatsConnection> {
  const nc = await connect({
    ...authConnectionOptions(auth),
    // A cluster is given as a comma-separated list (NATS_URL=nats://a:4222,nats://b:4222): any live one will do.
    servers: servers
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    name,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    reconnectTimeWait: 250,
    pingInterval: 5_000,
    maxPingOut: 2,
    // Without this the client builds two Errors (stack captures) per request up front, to give a timeout the
    // caller's stack: a few percent of the gateway's CPU in parallel coordination (seven requests a decision).
    // Failures still name what failed (RequestError with the cause, TimeoutError). CHORUS_NATS_ASYNC_TRACES=1 gives
    // timeouts their caller's stack again, to find where one went unhandled.
    noAsyncTraces: process.env.CHORUS_NATS_ASYNC_TRACES !== "1",
  });
  try {
    requireServerVersion(nc.info?.version);
  } catch (err) {
    await nc.close();
    throw err;
  }
  return nc;
}
