import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../launch/mesh.ts";
import { permissionViolations } from "../../lib/nats/server-log.ts";
import { repoRoot } from "../../lib/process/launcher.ts";
import { decideRequest } from "../../loadtest/lib/decide-request.js";
import { startMeshOnFreePorts } from "./free-port-mesh.ts";

const dir = fileURLToPath(new URL("../../loadtest/", import.meta.url));

/** K6, then k6 on PATH, then the v0.48 build in the shared material beside the clone. */
function findK6(): string | undefined {
  if (process.env.K6) return process.env.K6;
  if (spawnSync("k6", ["version"]).status === 0) return "k6";
  const shared = join(repoRoot, "..", "shared", "tools", "k6", "k6");
  return existsSync(shared) ? shared : undefined;
}

const k6 = findK6();
if (!k6) console.warn("skipping the k6 runs: no k6 binary (set K6, put k6 on PATH, or ../shared/tools/k6/k6)");

interface K6Summary {
  metrics: Record<string, { passes?: number; fails?: number; value?: number; count?: number }>;
}

/**
 * Every script run by a real k6 against a test mesh for a few seconds at a modest rate: exit code 0 (every
 * threshold held) and every check passed. Latency bounds are relaxed (P99_MS): this shows the scripts work, on a
 * shared machine; capacity numbers come from `npm run bench`.
 */
describe.skipIf(!k6)("k6 scripts - run by k6 against a test mesh", () => {
  let mesh: Mesh;
  let out: string;
  beforeAll(async () => {
    mesh = await startMeshOnFreePorts(async (port) => ({ gatewayPort: await port(), silent: true, demo: true }));
    out = mkdtempSync(join(tmpdir(), "chorus-k6-"));
    // The first decisions of a fresh mesh wait for leases and warm caches: let them pass before k6 measures.
    for (let i = 0; i < 60; i++) {
      const res = await fetch(`${mesh.gatewayUrl}/chorus.v1.DecisionService/Decide`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${mesh.credentials.decideKey}`,
        },
        body: JSON.stringify(decideRequest(0, i)),
      }).catch(() => undefined);
      if (res?.status === 200 && ((await res.json()) as { ads?: unknown[] }).ads?.length) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  }, 120_000);
  afterAll(async () => {
    await mesh?.stop();
    if (out) rmSync(out, { recursive: true, force: true });
  }, 30_000);

  it.each(["decide-grpc.js", "decide-connect.js", "mixed.js", "vast.js"])(
    "%s runs green: exit 0, every check passed",
    async (script) => {
      const summary = join(out, `${script}.json`);
      const gateway = new URL(mesh.gatewayUrl).host;
      const env = {
        GATEWAY: gateway,
        BASE_URL: mesh.gatewayUrl,
        RATE: "10",
        DURATION: "4s",
        P99_MS: "3000",
        EVENTS_P99_MS: "3000",
        TRACKING_P99_MS: "3000",
        // Generous: the suite shares two cores with everything else; this run shows the scripts work.
        TIMEOUT: "15s",
        API_KEY: mesh.credentials.decideKey,
      };
      const args = ["run", "--quiet", "--no-usage-report", "--no-color", `--summary-export=${summary}`];
      for (const [k, v] of Object.entries(env)) args.push("-e", `${k}=${v}`);
      args.push(join(dir, script));
      const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
        // A clean environment: k6 puts the system's variables in __ENV too (vitest sets BASE_URL=/ for Vite).
        const childEnv = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", K6_NO_USAGE_REPORT: "true" };
        const child = spawn(k6!, args, { cwd: dir, env: childEnv });
        let output = "";
        child.stdout.on("data", (d) => {
          output += d;
        });
        child.stderr.on("data", (d) => {
          output += d;
        });
        child.on("close", (c) => resolve({ code: c, output }));
      });
      expect(code, output.slice(-4000)).toBe(0);
      const { metrics } = JSON.parse(readFileSync(summary, "utf8")) as K6Summary;
      expect(metrics.checks?.fails, output.slice(-4000)).toBe(0);
      expect(metrics.checks?.passes ?? 0).toBeGreaterThan(5);
      expect(metrics.iterations?.count ?? 0).toBeGreaterThan(10);
    },
    90_000,
  );
  it("ran with NATS permissions on: no process was refused anything", () => {
    expect(mesh.auth, "the mesh's private server requires credentials").toBeDefined();
    expect(permissionViolations(mesh.natsLogFile)).toEqual([]);
  });
});
