import { afterEach, describe, expect, it } from "vitest";
import { type RunningChild, startChild, stopChild } from "./launcher.ts";

/** Real forked children: a spec's node flags reach the child, and the environment's flags come after them. */
describe("launcher node flags", () => {
  let child: RunningChild | undefined;
  const savedArgs = process.env.CHORUS_NODE_ARGS;
  afterEach(async () => {
    if (child) await stopChild(child.process);
    child = undefined;
    if (savedArgs === undefined) delete process.env.CHORUS_NODE_ARGS;
    else process.env.CHORUS_NODE_ARGS = savedArgs;
  });

  const start = (nodeArgs?: string[]) =>
    startChild({ name: "flags", entry: "lib/process/testing/flags-child", nodeArgs }, { silent: true });

  it("starts the child with the spec's flags, and V8 applies them", async () => {
    delete process.env.CHORUS_NODE_ARGS;
    const plain = await start();
    const plainLimit = plain.ready.heapLimit as number;
    await stopChild(plain.process);
    child = await start(["--max-semi-space-size=64"]);
    expect(child.ready.execArgv).toContain("--max-semi-space-size=64");
    // The heap limit counts the young generation: 3 x 48 MiB more semi-space than V8's default of 16 MiB.
    expect((child.ready.heapLimit as number) - plainLimit).toBeGreaterThanOrEqual(3 * 48 * 2 ** 20);
  });

  it("puts CHORUS_NODE_ARGS after the spec's flags, so the environment's value wins", async () => {
    process.env.CHORUS_NODE_ARGS = "--max-semi-space-size=32";
    child = await start(["--max-semi-space-size=64"]);
    const argv = child.ready.execArgv as string[];
    expect(argv.indexOf("--max-semi-space-size=32")).toBeGreaterThan(argv.indexOf("--max-semi-space-size=64"));
  });
});
