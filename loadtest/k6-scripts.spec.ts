import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

/**
 * k6 cannot be installed here (no npm or apt package ships the binary), so the scripts are checked as far as Node
 * can: they bundle as ES modules with k6's modules left external, every relative import resolves, and each
 * exports `options` and the scenario functions its options name.
 */
const dir = fileURLToPath(new URL(".", import.meta.url));
const scripts = readdirSync(dir).filter((f) => f.endsWith(".js"));

describe("k6 scripts", () => {
  it("k6 scripts - there are the three the issue asks for", () => {
    expect(scripts.sort()).toEqual(["decide-connect.js", "decide-grpc.js", "mixed.js"]);
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
