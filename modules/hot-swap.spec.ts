import { describe, expect, it } from "vitest";
import { hotSwapBenchPerFile } from "./testing/bench-per-file.ts";
import { eventually, routerDecide, runLoad, sleep } from "./testing/hot-swap-fixture.ts";
import { kernelVariants } from "./testing/kernel-variants.ts";

const bench = hotSwapBenchPerFile();

describe("hot swap", () => {
  it("hot swap - activation under steady load: zero failed decisions, every later result names the new version", async () => {
    const gateways = [await bench.startProcess("gateway-a"), await bench.startProcess("gateway-b")];
    expect(gateways.map((g) => g.router.activeVersion)).toEqual(["1.0.0", "1.0.0"]);
    await bench.publish("1.1.0", kernelVariants.build(2));

    let activatedAt = 0;
    const rollout = (async () => {
      await sleep(400);
      await bench.operations.activate("kernel", "1.1.0", "faster kernel");
      activatedAt = Date.now();
      await eventually(() => (gateways.every((g) => g.router.activeVersion === "1.1.0") ? true : undefined));
      await sleep(400);
    })();
    const loads = await Promise.all(gateways.map((g) => runLoad(routerDecide(g.router), rollout, 4)));

    for (const load of loads) {
      expect(load.errors).toEqual([]);
      const versions = load.outcomes.map((o) => o.moduleVersion);
      expect(versions[0]).toBe("1.0.0");
      expect(versions.at(-1)).toBe("1.1.0");
      // One switch, never back: the results show the version change exactly once per gateway... modulo the
      // decisions already in a worker's ring at the swap, which may finish on either version.
      const firstNew = versions.indexOf("1.1.0");
      const lateOld = load.outcomes
        .slice(firstNew)
        .filter((o) => o.moduleVersion === "1.0.0" && o.at > activatedAt + 1_000);
      expect(lateOld).toEqual([]);
      expect(load.outcomes.length).toBeGreaterThan(100);
    }
  });
});
