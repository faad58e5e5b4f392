import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Node, parse } from "acorn";
import { ancestor } from "acorn-walk";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const dir = fileURLToPath(new URL(".", import.meta.url));
const scripts = readdirSync(dir).filter((f) => f.endsWith(".js"));
const sources = [
  ...scripts,
  ...readdirSync(join(dir, "lib"))
    .filter((f) => f.endsWith(".js"))
    .map((f) => `lib/${f}`),
];

// The scripts run by a real k6 against a test mesh: test/e2e/k6-scripts-run.spec.ts.

/**
 * k6 v0.48 compiles scripts with an old Babel that rejects optional chaining, nullish coalescing and object
 * spread; current k6 accepts them. Scripts written without them run on both (../shared/tools/k6/README.md).
 */
function syntaxK6v048Rejects(source: string): string[] {
  const found: string[] = [];
  const ast = parse(source, { ecmaVersion: "latest", sourceType: "module", locations: true });
  ancestor(ast, {
    ChainExpression(node) {
      found.push(`optional chaining at line ${node.loc?.start.line}`);
    },
    LogicalExpression(node) {
      if ((node as Node & { operator: string }).operator === "??")
        found.push(`nullish coalescing at line ${node.loc?.start.line}`);
    },
    SpreadElement(node, _state, ancestors) {
      if (ancestors.at(-2)?.type === "ObjectExpression") found.push(`object spread at line ${node.loc?.start.line}`);
    },
  });
  return found;
}

describe("k6 scripts", () => {
  it("k6 scripts - Decide over gRPC and Connect, the player mix, and VAST with tracking", () => {
    expect(scripts.sort()).toEqual(["decide-connect.js", "decide-grpc.js", "mixed.js", "vast.js"]);
  });

  it.each(sources)("k6 scripts - %s uses only syntax k6 v0.48 accepts (no ?., ??, object spread)", (file) => {
    expect(syntaxK6v048Rejects(readFileSync(join(dir, file), "utf8"))).toEqual([]);
  });

  it("k6 scripts - the syntax check finds what k6 v0.48 rejects", () => {
    expect(syntaxK6v048Rejects("const a = b?.c ?? { ...d };")).toHaveLength(3);
    expect(syntaxK6v048Rejects("const a = [...b]; f(...c);")).toEqual([]);
  });

  for (const script of scripts) {
    it(`k6 scripts - ${script} parses, resolves its imports and exports options and its scenario functions`, async () => {
      const result = await build({
        entryPoints: [`${dir}/${script}`],
        bundle: true,
        format: "esm",
        write: false,
        metafile: true,
        external: ["k6", "k6/*"],
        logLevel: "silent",
      });
      const exports = Object.values(result.metafile.outputs)[0]!.exports;
      expect(exports).toContain("options");
      expect(exports).toContain("default");
      const source = result.outputFiles[0]!.text;
      const execs = [...source.matchAll(/arrivalScenario\(.*,\s*"(\w+)"\)/g)].map((m) => m[1]);
      expect(execs.length).toBeGreaterThan(0);
      for (const exec of execs) expect(exports).toContain(exec);
      expect(source).toMatch(/thresholds/);
    });
  }
});
