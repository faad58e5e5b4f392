/**
 * How a Chorus process proves who it is to NATS, from its environment (one builder for every process and tool):
 * - NATS_CREDS: a .creds file (JWT + nkey seed; operator/account mode servers);
 * - NATS_NKEY_SEED_FILE: a file holding an nkey user seed (what npm start hands each process);
 * - NATS_USER and NATS_PASSWORD: user and password (the fallback);
 * - NATS_TLS_CA: CA bundle the server's certificate is checked against (turns TLS on); NATS_TLS_CERT and
 *   NATS_TLS_KEY: a client certificate, for servers that verify clients;
 * - NATS_INBOX_PREFIX: where replies come back (`_INBOX.<identity>`), so a server can limit each identity to its own
 *   inbox (lib/nats/permissions.ts).
 * Secrets are read from files, never taken from a command line; nothing here is logged.
 */
import { readFileSync } from "node:fs";
import {
  type Authenticator,
  type ConnectionOptions,
  credsAuthenticator,
  nkeyAuthenticator,
  type TlsOptions,
  usernamePasswordAuthenticator,
} from "@nats-io/nats-core";

export interface NatsClientAuth {
  authenticator?: Authenticator;
  tls?: TlsOptions;
  inboxPrefix?: string;
  /** What was used, for messages (never a secret): "nkey seed file /x/y.nk", "user alice", ... */
  describe: string;
}

export class NatsCredentialsError extends Error {
  override readonly name = "NatsCredentialsError";
}

/** Variables read, for `--help` texts and docs. */
export const NATS_AUTH_ENV = [
  "NATS_CREDS",
  "NATS_NKEY_SEED_FILE",
  "NATS_USER",
  "NATS_PASSWORD",
  "NATS_TLS_CA",
  "NATS_TLS_CERT",
  "NATS_TLS_KEY",
  "NATS_INBOX_PREFIX",
] as const;

/** The credentials named by `env` (empty values count as unset); none at all is allowed (an open server). */
export function natsClientAuth(env: NodeJS.ProcessEnv = process.env): NatsClientAuth {
  const v = (name: (typeof NATS_AUTH_ENV)[number]) => (env[name] ?? "").trim() || undefined;
  const creds = v("NATS_CREDS");
  const seedFile = v("NATS_NKEY_SEED_FILE");
  const user = v("NATS_USER");
  const password = v("NATS_PASSWORD");
  const chosen = [creds && "NATS_CREDS", seedFile && "NATS_NKEY_SEED_FILE", user && "NATS_USER"].filter(Boolean);
  if (chosen.length > 1) throw new NatsCredentialsError(`set one of ${chosen.join(", ")}, not several`);
  if (password && !user) throw new NatsCredentialsError("NATS_PASSWORD needs NATS_USER");
  const out: NatsClientAuth = { describe: "no credentials" };
  if (creds) {
    const bytes = readSecret(creds, "NATS_CREDS");
    out.authenticator = credsAuthenticator(bytes);
    out.describe = `credentials file ${creds}`;
  } else if (seedFile) {
    const seed = new TextEncoder().encode(new TextDecoder().decode(readSecret(seedFile, "NATS_NKEY_SEED_FILE")).trim());
    if (!/^SU[A-Z2-7]+$/.test(new TextDecoder().decode(seed)))
      throw new NatsCredentialsError(`NATS_NKEY_SEED_FILE ${seedFile} does not hold an nkey user seed (SU...)`);
    out.authenticator = nkeyAuthenticator(seed);
    out.describe = `nkey seed file ${seedFile}`;
  } else if (user) {
    out.authenticator = usernamePasswordAuthenticator(user, password ?? "");
    out.describe = `user ${user}`;
  }
  const ca = v("NATS_TLS_CA");
  const cert = v("NATS_TLS_CERT");
  const key = v("NATS_TLS_KEY");
  if (Boolean(cert) !== Boolean(key)) throw new NatsCredentialsError("NATS_TLS_CERT and NATS_TLS_KEY go together");
  if (ca || cert) out.tls = { ...(ca ? { caFile: ca } : {}), ...(cert ? { certFile: cert, keyFile: key } : {}) };
  const prefix = v("NATS_INBOX_PREFIX");
  if (prefix) {
    if (!/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/.test(prefix))
      throw new NatsCredentialsError(`NATS_INBOX_PREFIX ${JSON.stringify(prefix)} is not a subject without wildcards`);
    out.inboxPrefix = prefix;
  }
  return out;
}

/** The nats.js connection options for `auth` (spread into `connect({...})`). */
export function authConnectionOptions(auth: NatsClientAuth): Partial<ConnectionOptions> {
  return {
    ...(auth.authenticator ? { authenticator: auth.authenticator } : {}),
    ...(auth.tls ? { tls: auth.tls } : {}),
    ...(auth.inboxPrefix ? { inboxPrefix: auth.inboxPrefix } : {}),
  };
}

function readSecret(file: string, variable: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new NatsCredentialsError(`${variable} ${file} cannot be read: ${(err as NodeJS.ErrnoException).code}`);
  }
}
