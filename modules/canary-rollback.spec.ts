import { describe, expect, it } from "vitest";
import { ModuleStateChange_Action as Action } from "../gen/chorus/v1/module_pb.ts";
import { hotSwapBenchPerFile } from "./testing/bench-per-file.ts";
import { eventually, LIVE_RESERVE, routerDecide, runLoad, sleep } from "./testing/hot-swap-fixture.ts";
import { kernelVariants } from "./testing/kernel-variants.ts";

const bench = hotSwapBenchPerFile();

describe("automatic rollback of a canary", () => {
  for (const [fault, source] of [
    ["traps", kernelVariants.trapOnReserve(LIVE_RESERVE)],
    ["never returns", kernelVariants.loopOnReserve(LIVE_RESERVE)],
  ] as const) {
    it(`automatic rollback - a canary that ${fault} on live traffic is rolled back; every decision is answered`, async () => {
      const gateway = await bench.startProcess(`gateway-${fault.replace(" ", "-")}`);
      const version = `2.0.0-${fault === "traps" ? "trap" : "loop"}`;
      await bench.publish(version, source); // passes every check: the fault only fires on live traffic
      await bench.operations.canary("kernel", version, 50);
      await eventually(() => gateway.router.stats().canary);

      const done = bench.rolledBack(version).then(() => sleep(300));
      const load = await runLoad(routerDecide(gateway.router), done, 4);
      const last = await done.then(() => bench.rolledBack(version));

      expect(load.errors).toEqual([]);
      expect(last).toMatchObject({
        action: Action.AUTO_ROLLBACK,
        version,
        actor: gateway.watcher.module && expect.any(String),
      });
      // One failure on probation is enough (rollback-guard.ts).
      expect(last!.reason).toMatch(
        /^probation: canary .* failed on call \d+ \(probation 20 calls and 30 s; [\d.]+ s in\)/,
      );
      const state = await bench.operations.state("kernel");
      expect(state).toMatchObject({ activeVersion: "1.0.0", canaryVersion: "", canaryPercent: 0 });
      expect(gateway.router.stats().rolledBack).toContain(version);
      // The service kept answering after the rollback, from the active version.
      const afterwards = await runLoad(routerDecide(gateway.router), sleep(200), 2);
      expect(afterwards.errors).toEqual([]);
      expect(afterwards.outcomes.every((o) => o.moduleVersion === "1.0.0")).toBe(true);
    });
  }
});
