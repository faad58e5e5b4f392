/**
 * The embedded server's identities: one nkey user per process kind, with the permissions of lib/nats/permissions.ts,
 * rendered into a nats-server configuration. Files live in one folder (npm start: .data/nats/auth), the folder 0700
 * and every file 0600: `nats-server.conf` (public keys and permissions only) and `<identity>.nk` (the seed, handed
 * to the one process that uses it by path, NATS_NKEY_SEED_FILE, never on a command line or in a log).
 *
 * Seeds are kept across starts (a process restarted by its supervisor still holds a valid identity); the
 * configuration is written again at every start, so a changed permission table takes effect on restart.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createUser, fromSeed } from "@nats-io/nkeys";
import { type Identity, inboxPrefix, type Permissions, permissionsFor } from "./permissions.ts";

/** What a process needs to connect as one identity (lib/nats/connect-options.ts reads the same from the env). */
export interface IdentityAccess {
  name: string;
  seedFile: string;
  inboxPrefix: string;
}

export interface ServerAuth {
  dir: string;
  configFile: string;
  identities: Map<string, IdentityAccess>;
  /** The environment a child process needs to connect as `name` (overrides any other NATS_* credentials). */
  env(name: string): Record<string, string>;
  access(name: string): IdentityAccess;
}

export const SERVER_CONFIG_FILE = "nats-server.conf";
/** Written by the launcher once the server runs: how the CLI finds the local mesh (lib/nats/local-mesh.ts). */
export const LOCAL_MESH_FILE = "local-mesh.json";

const seedFileOf = (dir: string, name: string) => join(dir, `${name}.nk`);

/** Creates (or reuses) the identities' seeds in `dir` and writes the server configuration for them. */
export function writeServerAuth(dir: string, identities: readonly Identity[]): ServerAuth {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const access = new Map<string, IdentityAccess>();
  const users: string[] = [];
  for (const identity of identities) {
    if (access.has(identity.name)) throw new Error(`identity ${identity.name} is listed twice`);
    const seedFile = seedFileOf(dir, identity.name);
    const publicKey = ensureSeed(seedFile);
    access.set(identity.name, { name: identity.name, seedFile, inboxPrefix: inboxPrefix(identity.name) });
    users.push(renderUser(identity, publicKey, permissionsFor(identity)));
  }
  const configFile = join(dir, SERVER_CONFIG_FILE);
  const config = [
    "# Written by Chorus (lib/nats/server-auth.ts) at every start: edits are overwritten.",
    "# One nkey user per process kind; permissions from lib/nats/permissions.ts. No user = no connection.",
    "authorization {",
    "  users = [",
    users.join(",\n"),
    "  ]",
    "}",
    "",
  ].join("\n");
  writePrivate(configFile, config);
  return {
    dir,
    configFile,
    identities: access,
    access(name) {
      const a = access.get(name);
      if (!a) throw new Error(`no NATS identity named ${name} (have: ${[...access.keys()].join(", ")})`);
      return a;
    },
    env(name) {
      const a = this.access(name);
      return {
        NATS_NKEY_SEED_FILE: a.seedFile,
        NATS_INBOX_PREFIX: a.inboxPrefix,
        // Whatever the parent had for another server must not win over the identity.
        NATS_CREDS: "",
        NATS_USER: "",
        NATS_PASSWORD: "",
      };
    },
  };
}

/** Reads a seed file (created 0600 when missing) and returns the user's public key. */
function ensureSeed(file: string): string {
  if (existsSync(file)) {
    chmodSync(file, 0o600);
    return fromSeed(new TextEncoder().encode(readFileSync(file, "utf8").trim())).getPublicKey();
  }
  const user = createUser();
  writePrivate(file, `${new TextDecoder().decode(user.getSeed())}\n`);
  return user.getPublicKey();
}

function writePrivate(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

function renderUser(identity: Identity, publicKey: string, p: Permissions): string {
  const list = (xs: string[]) => `[${[...new Set(xs)].map((x) => JSON.stringify(x)).join(", ")}]`;
  return [
    `    # ${identity.kind}: ${identity.name}`,
    "    {",
    `      nkey: ${publicKey}`,
    "      permissions: {",
    `        publish: { allow: ${list(p.publish)} }`,
    `        subscribe: { allow: ${list(p.subscribe)} }`,
    p.allowResponses ? "        allow_responses: true" : "",
    "      }",
    "    }",
  ]
    .filter(Boolean)
    .join("\n");
}
