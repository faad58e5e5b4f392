import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkLayers } from "./check-layers.ts";

/** A throw-away repository holding the given files (the check lists files with git). */
function repo(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "chorus-layers-"));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  execFileSync("git", ["init", "-q"], { cwd: root });
  return root;
}

describe("layer check", () => {
  const roots: string[] = [];
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  });
  const check = (files: Record<string, string>) => {
    const root = repo(files);
    roots.push(root);
    return checkLayers(root);
  };

  it("passes imports that go down the order", () => {
    const result = check({
      "lib/a.ts": "export const a = 1;",
      "voting/v.ts": 'import { a } from "../lib/a.ts";\nexport const v = a;',
      "gateway/decide/d.ts": 'import { v } from "../../voting/v.ts";\nexport const d = v;',
    });
    expect(result).toMatchObject({ violations: [], fileCircles: [], folderCircles: [], files: 3 });
  });

  it("fails an upward import, a type-only or dynamic one too", () => {
    const result = check({
      "gateway/g.ts": "export type G = number;",
      "agents/runtime/r.ts": "export const r = 1;",
      "voting/v.ts": 'import type { G } from "../gateway/g.ts";\nexport const v: G = 1;',
      "modules/m.ts": 'export const m = () => import("../agents/runtime/r.ts");',
    });
    expect(result.violations.map((v) => `${v.from} -> ${v.to}`).sort()).toEqual([
      "modules/m.ts -> agents/runtime/r.ts",
      "voting/v.ts -> gateway/g.ts",
    ]);
  });

  it("fails an import between peers and a forbidden edge, but lets a spec use it", () => {
    const result = check({
      "bench/b.ts": "export const b = 1;",
      "cli/c.ts": 'import { b } from "../bench/b.ts";\nexport const c = b;',
      "gateway/decide/d.ts": "export const d = 1;",
      "gateway/server/s.ts": 'import { d } from "../decide/d.ts";\nexport const s = d;',
      "gateway/server/s.spec.ts": 'import { d } from "../decide/d.ts";\nexport const t = d;',
    });
    expect(result.violations.map((v) => `${v.from} -> ${v.to}`).sort()).toEqual([
      "cli/c.ts -> bench/b.ts",
      "gateway/server/s.ts -> gateway/decide/d.ts",
    ]);
  });

  it("fails import circles between files and between folders", () => {
    const result = check({
      "lib/x/a.ts": 'import { b } from "./b.ts";\nexport const a = () => b;',
      "lib/x/b.ts": 'import { a } from "./a.ts";\nexport const b = () => a;',
      "voting/p/p.ts": 'import { q } from "../q/q.ts";\nexport const p = q;',
      "voting/q/q.ts": 'import type { P } from "../p/types.ts";\nexport const q: P = 1;',
      "voting/p/types.ts": "export type P = number;",
    });
    expect(result.violations).toEqual([]);
    expect(result.fileCircles).toEqual([["lib/x/a.ts", "lib/x/b.ts"]]);
    expect(result.folderCircles).toEqual([["voting/p", "voting/q"]]);
  });
});
