import { describe, expect, it } from "vitest";
import { hotSwapBenchPerFile } from "./testing/bench-per-file.ts";
import { eventually, routerDecide, runLoad, sleep } from "./testing/hot-swap-fixture.ts";
import { kernelVariants } from "./testing/kernel-variants.ts";

const bench = hotSwapBenchPerFile();

describe("shadow mode", () => {
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

    // Every process writes what it sees to the module bucket, for `chorus modules report`.
    const written = await eventually(async () => {
      const mine = (await bench.registry.reports("kernel")).find((r) => r.process === "gateway-shadow");
      return mine?.shadow && mine.shadow.compared >= BigInt(report.compared) ? mine.shadow : undefined;
    });
    expect(written).toMatchObject({ version: "1.2.0-drift", differentPods: BigInt(report.differentPods) });

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
});
