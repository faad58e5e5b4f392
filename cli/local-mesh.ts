/**
 * How the CLI finds the local mesh (`npm start`) without flags: scripts/start.ts writes `<data dir>/mesh.env`
 * (NATS_URL of its private server, CHORUS_TRUSTED_KEYS of its processes). The environment wins over the file, and
 * without either the CLI falls back to NATS's default port.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const MESH_ENV_FILE = "mesh.env";

function meshEnv(): Record<string, string> {
  const file = join(process.env.CHORUS_DATA_DIR ?? ".data", MESH_ENV_FILE);
  const out: Record<string, string> = {};
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

/** $NATS_URL, else the local mesh's, else nats://127.0.0.1:4222. */
export function defaultNatsUrl(): string {
  return process.env.NATS_URL ?? meshEnv().NATS_URL ?? "nats://127.0.0.1:4222";
}

/** Fills CHORUS_TRUSTED_KEYS from the local mesh when unset, so the CLI verifies with the mesh's own keys. */
export function useLocalMeshTrustedKeys(): void {
  const file = meshEnv().CHORUS_TRUSTED_KEYS;
  if (!process.env.CHORUS_TRUSTED_KEYS && file) process.env.CHORUS_TRUSTED_KEYS = file;
}
