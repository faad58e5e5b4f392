import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MESH_ENV_FILE, useLocalMeshTrustedKeys } from "./local-mesh.ts";

const NAMES = ["CHORUS_DATA_DIR", "CHORUS_TRUSTED_KEYS", "CHORUS_MODULE_SIGNATURES_REQUIRED"] as const;
const saved = Object.fromEntries(NAMES.map((n) => [n, process.env[n]]));
afterEach(() => {
  for (const n of NAMES)
    if (saved[n] === undefined) delete process.env[n];
    else process.env[n] = saved[n];
});

describe("cli local mesh", () => {
  it("local mesh - the CLI takes the mesh's trusted keys and signature quorum from mesh.env; the environment wins", () => {
    const dir = mkdtempSync(join(tmpdir(), "chorus-mesh-env-"));
    writeFileSync(
      join(dir, MESH_ENV_FILE),
      "# npm start\nCHORUS_TRUSTED_KEYS=/data/trusted-keys.pem\nCHORUS_MODULE_SIGNATURES_REQUIRED=2\n",
    );
    process.env.CHORUS_DATA_DIR = dir;
    delete process.env.CHORUS_TRUSTED_KEYS;
    delete process.env.CHORUS_MODULE_SIGNATURES_REQUIRED;
    useLocalMeshTrustedKeys();
    expect(process.env.CHORUS_TRUSTED_KEYS).toBe("/data/trusted-keys.pem");
    expect(process.env.CHORUS_MODULE_SIGNATURES_REQUIRED).toBe("2");
    process.env.CHORUS_MODULE_SIGNATURES_REQUIRED = "3";
    useLocalMeshTrustedKeys();
    expect(process.env.CHORUS_MODULE_SIGNATURES_REQUIRED).toBe("3");
  });
});
