/**
 * The module signing keys the local mesh (`npm start`) trusts, for the CLI's own verification: scripts/start.ts
 * writes `<data dir>/mesh.env` (CHORUS_TRUSTED_KEYS of its processes). The environment wins over the file. (The
 * server and the operator credentials come from lib/nats/local-mesh.ts.)
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { localDataDir } from "../lib/nats/local-mesh.ts";

export const MESH_ENV_FILE = "mesh.env";

function meshEnv(): Record<string, string> {
  const file = join(localDataDir(), MESH_ENV_FILE);
  const out: Record<string, string> = {};
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

/**
 * Fills CHORUS_TRUSTED_KEYS and CHORUS_MODULE_SIGNATURES_REQUIRED from the local mesh when unset, so the CLI
 * verifies with the mesh's own keys and quorum.
 */
export function useLocalMeshTrustedKeys(): void {
  const env = meshEnv();
  for (const name of ["CHORUS_TRUSTED_KEYS", "CHORUS_MODULE_SIGNATURES_REQUIRED"])
    if (!process.env[name] && env[name]) process.env[name] = env[name];
}
