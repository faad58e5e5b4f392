/**
 * How a tool on this machine (the `chorus` CLI) reaches the mesh `npm start` runs, with no flags: the launcher
 * writes `local-mesh.json` (the server URL; mode 0600) next to the identities in the data dir's `nats/auth`, and the
 * tool connects as the operator identity found there.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../process/launcher.ts";
import { type NatsClientAuth, natsClientAuth } from "./connect-options.ts";
import { inboxPrefix } from "./permissions.ts";
import { LOCAL_MESH_FILE } from "./server-auth.ts";

export interface LocalMesh {
  url: string;
  authDir: string;
}

export function writeLocalMesh(authDir: string, url: string): void {
  writeFileSync(join(authDir, LOCAL_MESH_FILE), `${JSON.stringify({ url }, null, 2)}\n`, { mode: 0o600 });
}

/** The data dir of this checkout: CHORUS_DATA_DIR, else `.data` at the repository root (as npm start uses). */
export function localDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHORUS_DATA_DIR || join(repoRoot, ".data");
}

/** The mesh npm start last ran from this data dir, if any. */
export function findLocalMesh(dataDir = localDataDir()): LocalMesh | undefined {
  const authDir = join(dataDir, "nats", "auth");
  const file = join(authDir, LOCAL_MESH_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const { url } = JSON.parse(readFileSync(file, "utf8")) as { url?: unknown };
    return typeof url === "string" && url ? { url, authDir } : undefined;
  } catch {
    return undefined;
  }
}

const CREDENTIAL_VARS = ["NATS_CREDS", "NATS_NKEY_SEED_FILE", "NATS_USER"] as const;

/**
 * Server and credentials for a tool. Credentials in the environment win (any server); otherwise, when the server is
 * the local mesh's (or none is named), the local operator identity; otherwise none.
 */
export function toolNatsAccess(
  url?: string,
  env: NodeJS.ProcessEnv = process.env,
): { url: string; auth: NatsClientAuth } {
  const local = findLocalMesh(localDataDir(env));
  const servers = url || env.NATS_URL || local?.url || "nats://127.0.0.1:4222";
  if (CREDENTIAL_VARS.some((v) => env[v]?.trim()) || !local || local.url !== servers)
    return { url: servers, auth: natsClientAuth(env) };
  return {
    url: servers,
    auth: natsClientAuth({
      ...env,
      NATS_NKEY_SEED_FILE: join(local.authDir, "operator.nk"),
      NATS_INBOX_PREFIX: inboxPrefix("operator"),
    }),
  };
}

/** The default `--nats-url` of a tool: NATS_URL, else the local mesh's, else the usual local port. */
export function defaultNatsUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.NATS_URL || findLocalMesh(localDataDir(env))?.url || "nats://127.0.0.1:4222";
}
