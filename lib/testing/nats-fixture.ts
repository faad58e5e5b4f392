import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { connectNats, type NatsConnection } from "../nats/connect.ts";
import { natsClientAuth } from "../nats/connect-options.ts";
import { NatsServerProcess } from "../nats/nats-server-process.ts";
import type { Identity } from "../nats/permissions.ts";
import { type ServerAuth, writeServerAuth } from "../nats/server-auth.ts";
import { AGENTS } from "../subjects.ts";

/** A private nats-server (JetStream on, free port, temp store) and a connection to it, for one test file. */
export interface NatsFixture {
  server: NatsServerProcess;
  nc: NatsConnection;
  js: JetStreamClient;
  /**
   * A further connection (a second process's view), closed by cleanup. With `permissions`, it connects as
   * `identity` (default: the fixture's own), held to that process kind's rights.
   */
  connect(name?: string, identity?: FixtureIdentity): Promise<NatsConnection>;
  /** With `permissions`: the generated identities and configuration the server runs with. */
  auth?: ServerAuth;
  cleanup(): Promise<void>;
}

/** The process kinds a fixture can play (one agent host runs every agent). */
export type FixtureIdentity = "operator" | "gateway" | "ledger" | "budget" | "agents";

export interface NatsFixtureOptions {
  /**
   * Run the server with the permissions npm start generates (lib/nats/permissions.ts, one nkey user per process
   * kind) and connect `nc` as this identity: the test then does only what that process may do.
   */
  permissions?: FixtureIdentity;
  /**
   * Lays out the streams and buckets the test needs, as the operator (the only identity that may create one, as
   * npm start's launcher does with launch/bus-setup.ts), before `nc` connects. Without `permissions`, as `nc`.
   */
  setup?: (operator: NatsConnection) => Promise<unknown>;
}

const FIXTURE_IDENTITIES: Identity[] = [
  { kind: "operator", name: "operator" },
  { kind: "gateway", name: "gateway" },
  { kind: "ledger", name: "ledger" },
  { kind: "budget", name: "budget" },
  { kind: "agents", name: "agents", agents: AGENTS.filter((a) => a !== "budget") },
];

export async function startNats(options: NatsFixtureOptions = {}): Promise<NatsFixture> {
  const authDir = options.permissions ? mkdtempSync(join(tmpdir(), "chorus-fixture-auth-")) : undefined;
  const auth = authDir ? writeServerAuth(authDir, FIXTURE_IDENTITIES) : undefined;
  const server = await new NatsServerProcess({ configFile: auth?.configFile }).start();
  const connections: NatsConnection[] = [];
  const connect = async (name = "test", identity = options.permissions) => {
    const nc = await connectNats({
      servers: server.url,
      name,
      // Without permissions: the environment's credentials, as before (none in the tests).
      auth: auth && identity ? natsClientAuth(auth.env(identity)) : undefined,
    });
    connections.push(nc);
    return nc;
  };
  if (options.setup) await options.setup(await connect("setup", auth ? "operator" : undefined));
  const nc = await connect();
  return {
    server,
    nc,
    js: jetstream(nc),
    connect,
    auth,
    async cleanup() {
      await Promise.allSettled(connections.map((c) => c.close()));
      await server.stop();
      if (authDir) rmSync(authDir, { recursive: true, force: true });
    },
  };
}
