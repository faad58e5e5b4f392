/**
 * The bus-permission specs' server: a real nats-server running the configuration npm start generates
 * (lib/nats/server-auth.ts from lib/nats/permissions.ts), its log in a file (where the server writes each refusal),
 * one connection per identity, and every stream and bucket laid out by the operator as npm start's launcher does.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setUpBus } from "../../launch/bus-setup.ts";
import { connectNats, type NatsConnection } from "../../lib/nats/connect.ts";
import { natsClientAuth } from "../../lib/nats/connect-options.ts";
import { NatsServerProcess } from "../../lib/nats/nats-server-process.ts";
import type { Identity } from "../../lib/nats/permissions.ts";
import { type ServerAuth, writeServerAuth } from "../../lib/nats/server-auth.ts";
import { type PermissionViolation, permissionViolations } from "../../lib/nats/server-log.ts";

/** One identity per process kind; the agent host runs three agents on one connection. */
export const BUS_IDENTITIES: readonly Identity[] = [
  { kind: "operator", name: "operator" },
  { kind: "gateway", name: "gateway" },
  { kind: "ledger", name: "ledger" },
  { kind: "budget", name: "budget" },
  { kind: "agents", name: "agents-1", agents: ["intent", "relevance", "timing"] },
];

export interface AuthBus {
  /** The run's temporary folder (removed by stop). */
  dir: string;
  auth: ServerAuth;
  server: NatsServerProcess;
  logFile: string;
  /** One connection per identity, named `<clientPrefix>-<identity>`: the server's log names the client. */
  as: Record<string, NatsConnection>;
  /** Resolves once the server has logged a refusal of `identity`'s connection that `matches`; fails after 5 s. */
  violationLogged(identity: string, matches: (v: PermissionViolation) => boolean, what: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startAuthBus(options: {
  /** Names the temporary folder: `chorus-<name>-`. */
  name: string;
  clientPrefix: string;
  /** Where the identities go inside the folder (default `auth`; npm start's layout is `nats/auth`). */
  authDir?: string[];
}): Promise<AuthBus> {
  const dir = mkdtempSync(join(tmpdir(), `chorus-${options.name}-`));
  const auth = writeServerAuth(join(dir, ...(options.authDir ?? ["auth"])), BUS_IDENTITIES);
  const logFile = join(dir, "nats-server.log");
  const server = await new NatsServerProcess({
    storeDir: join(dir, "js"),
    configFile: auth.configFile,
    logFile,
  }).start();
  const as: Record<string, NatsConnection> = {};
  const stop = async () => {
    await Promise.allSettled(Object.values(as).map((nc) => nc.close()));
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const { name } of BUS_IDENTITIES)
      as[name] = await connectNats({
        servers: server.url,
        name: `${options.clientPrefix}-${name}`,
        auth: natsClientAuth(auth.env(name)),
      });
    // The operator lays out every stream and bucket (npm start's launcher does it before any process starts).
    await setUpBus(as.operator!);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    dir,
    auth,
    server,
    logFile,
    as,
    async violationLogged(identity, matches, what) {
      const client = `${options.clientPrefix}-${identity}`;
      const until = Date.now() + 5_000;
      // The server writes its log asynchronously: poll briefly.
      while (!permissionViolations(logFile).some((v) => v.client === client && matches(v))) {
        if (Date.now() > until)
          throw new Error(
            `no violation logged for ${identity} on ${what}:\n${JSON.stringify(permissionViolations(logFile))}`,
          );
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop,
  };
}
