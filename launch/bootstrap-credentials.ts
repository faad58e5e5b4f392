import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { keyIdOf, parseBearer, secretMatches } from "../gateway/auth/api-key.ts";
import { ApiKeyAdmin, openApiKeyBucket } from "../gateway/auth/api-key-store.ts";
import { newEventTokenKey, parseEventTokenKeys } from "../gateway/auth/event-token.ts";
import { connectNats } from "../lib/nats/connect.ts";
import type { NatsClientAuth } from "../lib/nats/connect-options.ts";

/** What a local mesh's clients and gateways need: written to .data/credentials.env by `npm start`. */
export interface MeshCredentials {
  /** CHORUS_ADMIN_KEY: everything, including `chorus keys`. */
  adminKey: string;
  /** CHORUS_DECIDE_KEY: what players, the demo traffic, k6, the bench and the simulator send. */
  decideKey: string;
  /** EVENT_TOKEN_KEYS: the gateways' shared event token secret. */
  eventTokenKeys: string;
}

const NAMES = { adminKey: "CHORUS_ADMIN_KEY", decideKey: "CHORUS_DECIDE_KEY", eventTokenKeys: "EVENT_TOKEN_KEYS" };

/**
 * The launcher's bootstrap (it holds NATS access, the admin path): keys from `file` are kept while they are still
 * valid in the key bucket; otherwise a new admin key and a new decide key are created. With a file, the result is
 * written back (mode 0600) so clients can `source` it.
 */
export async function bootstrapCredentials(
  natsUrl: string,
  file?: string,
  auth?: NatsClientAuth,
): Promise<MeshCredentials> {
  const saved = file && existsSync(file) ? readEnvFile(file) : {};
  const nc = await connectNats({ servers: natsUrl, name: "chorus-bootstrap", auth });
  try {
    const admin = new ApiKeyAdmin(await openApiKeyBucket(jetstream(nc)));
    const usable = async (key: string | undefined, role: string) => {
      const presented = key ? parseBearer(`Bearer ${key}`) : undefined;
      const record = presented && (await admin.get(presented.id));
      return Boolean(record && !record.revokedAt && record.role === role && secretMatches(record, presented.secret));
    };
    const adminKey = (await usable(saved[NAMES.adminKey], "admin"))
      ? saved[NAMES.adminKey]!
      : (await admin.create({ name: "bootstrap admin", role: "admin" })).key;
    const decideKey = (await usable(saved[NAMES.decideKey], "decide"))
      ? saved[NAMES.decideKey]!
      : (await admin.create({ name: "demo player", role: "decide" })).key;
    let eventTokenKeys = saved[NAMES.eventTokenKeys] ?? "";
    try {
      if (parseEventTokenKeys(eventTokenKeys).length === 0) eventTokenKeys = newEventTokenKey();
    } catch {
      eventTokenKeys = newEventTokenKey();
    }
    const credentials = { adminKey, decideKey, eventTokenKeys };
    if (file) writeEnvFile(file, credentials);
    return credentials;
  } finally {
    await nc.close();
  }
}

export function readEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim().replace(/^'(.*)'$/, "$1");
  }
  return out;
}

function writeEnvFile(file: string, c: MeshCredentials): void {
  mkdirSync(dirname(file), { recursive: true });
  const lines = [
    "# Written by npm start: the local mesh's credentials. Keep private; `set -a; . ./.data/credentials.env; set +a`.",
    `${NAMES.adminKey}=${c.adminKey}`,
    `${NAMES.decideKey}=${c.decideKey}`,
    `${NAMES.eventTokenKeys}=${c.eventTokenKeys}`,
    "",
  ];
  writeFileSync(file, lines.join("\n"), { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** "ck.<id>.…" -> "ck.<id>.****" for printing where the whole key must not appear. */
export function maskKey(key: string): string {
  const id = keyIdOf(key);
  return id ? `ck.${id}.****` : "****";
}
