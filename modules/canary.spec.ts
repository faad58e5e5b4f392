import { describe, expect, it } from "vitest";
import { bucketOf } from "./module-router.ts";
import { hotSwapBenchPerFile } from "./testing/bench-per-file.ts";
import { eventually, routerDecide, runLoad, sleep } from "./testing/hot-swap-fixture.ts";
import { kernelVariants } from "./testing/kernel-variants.ts";

const bench = hotSwapBenchPerFile();

describe("canary", () => {
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
