import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../launch/mesh.ts";
import { permissionViolations } from "../../lib/nats/server-log.ts";
import { startMeshOnFreePorts } from "./free-port-mesh.ts";

/**
 * The README's client examples, run as printed against a real mesh: the one code block after "from another
 * terminal", one command per line (a trailing `\` or an open quote continues it). Only where the mesh runs
 * differs: its gateway address for 127.0.0.1:8080, its credentials file for .data/credentials.env, its NATS port
 * for <port> and a real decision id for <decision-id>. `npx chorus` runs the CLI's source (dist/ is built by
 * `npm start`, not by the tests); `chorus` in package.json's bin is dist/cli/chorus.js, compiled from it.
 */
const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

function readmeClientExamples(text: string): string[] {
  const start = text.indexOf("```sh\nset -a; . .data/credentials.env");
  if (start < 0) throw new Error("README: the client examples block (starting with set -a) is missing");
  const body = text.slice(text.indexOf("\n", start) + 1, text.indexOf("\n```", start + 5));
  const commands: string[] = [];
  let current = "";
  for (const line of body.split("\n")) {
    if (!current && (line.trim() === "" || line.trim().startsWith("#"))) continue;
    current += (current ? "\n" : "") + line;
    const quotes = (current.match(/'/g) ?? []).length;
    if (line.trimEnd().endsWith("\\") || quotes % 2 === 1) continue;
    commands.push(current);
    current = "";
  }
  return commands;
}

const run = promisify(execFile);

describe("README client examples, exactly as printed, against a real mesh", () => {
  let mesh: Mesh;
  let dir: string;
  let credentialsFile: string;
  const repo = new URL("../..", import.meta.url).pathname;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "chorus-readme-"));
    credentialsFile = join(dir, "credentials.env");
    // Laid out like npm start's .data (CHORUS_DATA_DIR below): `chorus` finds the mesh and its operator identity.
    mesh = await startMeshOnFreePorts(async (port) => ({
      gatewayPort: await port(),
      silent: true,
      demo: true,
      credentialsFile,
      natsAuthDir: join(dir, "nats", "auth"),
    }));
  }, 120_000);
  afterAll(async () => {
    await mesh?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it("every command exits 0 and answers what the README says it does", async () => {
    const commands = readmeClientExamples(readme);
    expect(commands.length).toBeGreaterThan(8);
    const gateway = new URL(mesh.gatewayUrl).host;
    const natsPort = new URL(mesh.natsUrl.replace(/^nats:/, "http:")).port;
    const sh = async (command: string) => {
      const prepared = command
        .replaceAll("127.0.0.1:8080", gateway)
        .replaceAll(".data/credentials.env", credentialsFile)
        .replaceAll("<port>", natsPort)
        .replaceAll("npx chorus ", "node --import tsx cli/chorus.ts ")
        .replace(/\s+#[^'\n]*$/, "");
      const out = await run("bash", ["-c", `set -euo pipefail; set -a; . '${credentialsFile}'; set +a; ${prepared}`], {
        cwd: repo,
        env: { ...process.env, CHORUS_GATEWAY_URL: mesh.gatewayUrl, CHORUS_DATA_DIR: dir },
        timeout: 60_000,
        maxBuffer: 16 << 20,
      });
      return out.stdout;
    };
    const outputs: { command: string; stdout: string }[] = [];
    let decisionId = "";
    for (const command of commands) {
      if (command.includes("<decision-id>")) {
        expect(decisionId, "a Decide example before explain/replay must return a decision id").not.toBe("");
      }
      const stdout = await sh(command.replaceAll("<decision-id>", decisionId));
      outputs.push({ command, stdout });
      const id = /"decisionId":\s*"([^"]+)"/.exec(stdout)?.[1];
      if (id && /"explain":\s*true/.test(command)) decisionId = id;
    }
    const answer = (pattern: RegExp) => outputs.find((o) => pattern.test(o.command))?.stdout ?? "";
    expect(answer(/--list-services/)).toContain("chorus.v1.DecisionService");
    expect(answer(/Health\/Check/)).toContain("SERVING");
    expect(answer(/"requestId":"r1"/)).toMatch(/"decisionId"/);
    expect(answer(/"requestId":"r2"/)).toMatch(/"decisionId"/);
    expect(answer(/"requestId":"r3"/)).toMatch(/"decisionId"/);
    expect(answer(/keys list/)).toContain("adv-1-agency");
    expect(answer(/vast\/v4/)).toContain('<VAST version="4.2"');
    expect(answer(/chorus explain/)).toContain(decisionId);
    expect(answer(/chorus replay/)).toContain("REPRODUCED: every output matches the record bit for bit.");
  }, 300_000);
  it("ran with NATS permissions on: no process was refused anything", () => {
    expect(mesh.auth, "the mesh's private server requires credentials").toBeDefined();
    expect(permissionViolations(mesh.natsLogFile)).toEqual([]);
  });
});
