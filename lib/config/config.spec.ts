import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parsers } from "./config.ts";

const schema = {
  port: { env: "T_PORT", default: 8080, parse: parsers.port, help: "the port" },
  mode: {
    env: "T_MODE",
    default: "cached" as "cached" | "parallel",
    parse: parsers.oneOf("cached", "parallel"),
    help: "mode",
  },
  workers: { env: "T_WORKERS", default: 1, parse: parsers.int(1, 8), help: "workers" },
  agents: { env: "T_AGENTS", default: [] as string[], parse: parsers.list, help: "agents" },
};

describe("config - environment, optional file, defaults", () => {
  it("config - defaults apply when nothing is set", () => {
    expect(loadConfig(schema, {})).toEqual({ port: 8080, mode: "cached", workers: 1, agents: [] });
  });

  it("config - environment wins over the file, the file over defaults", () => {
    const file = join(mkdtempSync(join(tmpdir(), "chorus-config-")), "chorus.json");
    writeFileSync(file, JSON.stringify({ T_PORT: 9000, T_MODE: "parallel" }));
    expect(loadConfig(schema, { CHORUS_CONFIG: file, T_PORT: "9100", T_AGENTS: "intent, timing" })).toEqual({
      port: 9100,
      mode: "parallel",
      workers: 1,
      agents: ["intent", "timing"],
    });
  });

  it("config - reports every bad variable at once, naming it and what it must be", () => {
    let err: unknown;
    try {
      loadConfig(schema, { T_PORT: "99999", T_MODE: "fast", T_WORKERS: "1.5" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^T_PORT="99999": must be a port number/);
    expect(problems[1]).toMatch(/^T_MODE="fast": must be one of cached, parallel/);
    expect(problems[2]).toMatch(/^T_WORKERS="1.5": must be an integer from 1 to 8/);
  });

  it("config - an unreadable config file is reported by name", () => {
    expect(() => loadConfig(schema, { CHORUS_CONFIG: "/nonexistent/chorus.json" })).toThrow(
      /CHORUS_CONFIG=\/nonexistent\/chorus.json/,
    );
  });
});
