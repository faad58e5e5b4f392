import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bucketOf } from "./module-router.ts";
import {
  eventually,
  type HotSwapBench,
  routerDecide,
  runLoad,
  sleep,
  startHotSwapBench,
} from "./testing/hot-swap-fixture.ts";
import { kernelVariants } from "./testing/kernel-variants.ts";

let bench: HotSwapBench;

beforeAll(async () => {
  bench = await startHotSwapBench();
  await bench.publish("1.0.0", kernelVariants.build(1));
  await bench.operations.activate("kernel", "1.0.0");
});
afterAll(() => bench?.cleanup());

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

  it("hot swap - shadow runs beside the active version and reports how often and how much decisions differ", async () => {
    const gateway = await bench.startProcess("gateway-shadow");
    await bench.publish("1.2.0-drift", kernelVariants.driftLater());
    await bench.operations.shadow("kernel", "1.2.0-drift");
    await eventually(() => gateway.router.stats().shadow);

    const load = await runLoad(routerDecide(gateway.router), sleep(1_200), 4);
    await sleep(300); // let the last shadow calls finish
    expect(load.errors).toEqual([]);
    // Shadow never answers: every response comes from the active version.
    expect(new Set(load.outcomes.map((o) => o.moduleVersion))).toEqual(new Set([gateway.router.activeVersion]));
    const report = gateway.router.stats().shadow!;
    expect(report.version).toBe("1.2.0-drift");
    expect(report.compared).toBeGreaterThan(100);
    expect(report.failures).toBe(0);
    expect(report.podDiffRate).toBeGreaterThan(0.2);
    expect(report.meanAbsPriceDeltaMicros).toBeGreaterThan(0);

    // The same module in shadow differs in nothing.
    await bench.publish("1.2.1-same", kernelVariants.build(3));
    await bench.operations.shadow("kernel", "1.2.1-same");
    await eventually(() => (gateway.router.stats().shadow?.version === "1.2.1-same" ? true : undefined));
    await runLoad(routerDecide(gateway.router), sleep(500), 4);
    await sleep(200);
    const same = gateway.router.stats().shadow!;
    expect(same.compared).toBeGreaterThan(50);
    expect(same.differentPods).toBe(0);
    expect(same.meanAbsPriceDeltaMicros).toBe(0);
    await bench.operations.shadow("kernel", "");
  });

  it("hot swap - a canary serves about its share of decisions, chosen by decision id", async () => {
    const gateway = await bench.startProcess("gateway-canary");
    await bench.publish("1.3.0", kernelVariants.build(4));
    await bench.operations.canary("kernel", "1.3.0", 30);
    await eventually(() => gateway.router.stats().canary);

    const load = await runLoad(routerDecide(gateway.router), sleep(1_000), 4);
    expect(load.errors).toEqual([]);
    const canary = load.outcomes.filter((o) => o.servedBy === "canary");
    expect(canary.every((o) => o.moduleVersion === "1.3.0")).toBe(true);
    const share = canary.length / load.outcomes.length;
    expect(share).toBeGreaterThan(0.22);
    expect(share).toBeLessThan(0.38);
    // Deterministic: exactly the decisions whose id hashes under the percent.
    expect(load.outcomes.every((o) => (o.servedBy === "canary") === bucketOf(o.decisionId) < 30)).toBe(true);
    await bench.operations.canary("kernel", "1.3.0", 0);
  });
});
