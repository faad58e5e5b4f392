import { describe, expect, it } from "vitest";
import { ModuleStateChange_Action as Action } from "../gen/chorus/v1/module_pb.ts";
import { readKernelWasm } from "../wasm-core/src/mod.ts";
import { signManifest } from "./manifest-signature.ts";
import { generateSigningKey, parsePrivateKey } from "./signing-keys.ts";
import { hotSwapBenchPerFile } from "./testing/bench-per-file.ts";
import { eventually, LIVE_RESERVE, routerDecide, runLoad, sleep } from "./testing/hot-swap-fixture.ts";
import { kernelVariants } from "./testing/kernel-variants.ts";

const bench = hotSwapBenchPerFile();

describe("automatic rollback of an activation", () => {
  it("automatic rollback - a newly activated version that traps is covered by the previous one, then rolled back", async () => {
    const gateway = await bench.startProcess("gateway-activation");
    await bench.publish("3.0.0-trap", kernelVariants.trapOnReserve(LIVE_RESERVE));
    const done = (async () => {
      await sleep(200);
      await bench.operations.activate("kernel", "3.0.0-trap");
      await bench.rolledBack("3.0.0-trap");
      await eventually(() => (gateway.router.activeVersion === "1.0.0" ? true : undefined));
      await sleep(300);
    })();
    const load = await runLoad(routerDecide(gateway.router), done, 4);

    expect(load.errors).toEqual([]);
    // Every call of 3.0.0-trap trapped: the previous version answered each of them.
    expect(gateway.router.stats().rolledBack).toContain("3.0.0-trap");
    expect(load.outcomes.some((o) => o.servedBy === "fallback" && o.moduleVersion === "1.0.0")).toBe(true);
    expect(load.outcomes.at(-1)!.moduleVersion).toBe("1.0.0");
    const state = await bench.operations.state("kernel");
    expect(state).toMatchObject({ activeVersion: "1.0.0", previousVersion: "" });
    expect(state.history.at(-1)).toMatchObject({ action: Action.AUTO_ROLLBACK, version: "3.0.0-trap" });
  });

  it("automatic rollback - a process refuses a version that fails its own checks even when the state makes it active", async () => {
    const gateway = await bench.startProcess("gateway-refuses");
    // Stored around the CLI (which would have refused it): signed by a key no process trusts.
    const bytes = readKernelWasm("simd");
    const rogue = generateSigningKey();
    const manifest = signManifest(
      bytes,
      { module: "kernel", version: "6.6.6", abiVersion: 1, author: "mallory" },
      parsePrivateKey(rogue.privateKeyPem),
    );
    await bench.registry.publish(bytes, manifest);
    const { activate } = await import("./module-state-changes.ts");
    await bench.registry.updateState("kernel", (s) => activate(s, "6.6.6", { actor: "mallory" }));

    const view = await eventually(() => {
      const v = gateway.watcher.view;
      return v?.state.activeVersion === "6.6.6" ? v : undefined;
    });
    await gateway.watcher.settled();
    expect(view.refused.get("6.6.6")?.reason).toBe("untrusted_key");
    expect(view.active?.version).toBe("1.0.0");
    expect(gateway.router.activeVersion).toBe("1.0.0");
    const load = await runLoad(routerDecide(gateway.router), sleep(200), 2);
    expect(load.errors).toEqual([]);
    expect(load.outcomes.every((o) => o.moduleVersion === "1.0.0")).toBe(true);
  });
});
