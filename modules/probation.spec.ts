/**
 * The rollback rules against real NATS and real WASM workers (hot-swap bench): a hang that is too rare for the
 * share rule is caught by the hang rule, with hangs counted per version across worker replacements and process
 * restarts (the shared record in KV); inline kernel mode never runs a published version on the calling thread;
 * output that breaks the contract is never served.
 */
import { describe, expect, it } from "vitest";
import { ModuleStateChange_Action as Action } from "../gen/chorus/v1/module_pb.ts";
import { hotSwapBenchPerFile } from "./testing/bench-per-file.ts";
import { eventually, LIVE_RESERVE, requests, routerDecide, runLoad, sleep } from "./testing/hot-swap-fixture.ts";
import { kernelVariants } from "./testing/kernel-variants.ts";
import { healthKey, type VersionRecord } from "./version-health.ts";

const bench = hotSwapBenchPerFile();

const record = async (version: string): Promise<VersionRecord | undefined> => {
  const entry = await bench.registry.states.get(healthKey("kernel", version));
  return entry?.operation === "PUT" ? (JSON.parse(new TextDecoder().decode(entry.value)) as VersionRecord) : undefined;
};

describe("probation and the hang rule", () => {
  it("probation - a hang every 50 calls stays under the share rule but not the hang rule, across a process restart", async () => {
    // Past probation at once, a share rule that a hang in 50 calls never passes: only the hang rule can act.
    // A call limit a healthy call meets on a loaded machine: only the module's own hangs may pass it.
    const config = { probationCalls: 0, probationMs: 0, hangLimit: 3, rollbackErrorRate: 0.5, callTimeoutMs: 1_500 };
    const version = "2.0.0-hang";
    await bench.publish(version, kernelVariants.hangEvery(50));
    const first = await bench.startProcess("gateway-before-restart", config);
    await bench.operations.canary("kernel", version, 100);
    await eventually(() => first.router.stats().canary);
    // A hang or two here (each replaces the worker, whose count starts again), then the process goes away. One
    // caller; still, the call queued behind a hung worker may pass its deadline too and count: one or two.
    const hung = eventually(async () => ((await record(version))?.hangs.length ?? 0) >= 1 || undefined, 30_000);
    const before = await runLoad(routerDecide(first.router), hung, 1);
    await first.close();
    expect(before.errors).toEqual([]);
    const between = await bench.operations.state("kernel");
    expect(between.canaryVersion, between.history.at(-1)?.reason).toBe(version); // not rolled back yet
    const carried = (await record(version))!.hangs.length;
    expect(carried).toBeGreaterThanOrEqual(1);
    expect(carried).toBeLessThan(3);

    // A new process starts from the shared record: its hangs add to the carried ones, and the third in all rolls
    // the version back. Had the restart reset the count, this process would need three of its own.
    const second = await bench.startProcess("gateway-after-restart", config);
    await eventually(() => second.router.stats().canary);
    const t0 = Date.now();
    const rolledBack = bench.rolledBack(version);
    const after = await runLoad(routerDecide(second.router), rolledBack, 1);
    const last = await rolledBack;
    console.log(`hang every 50 calls, across a restart: rolled back ${Date.now() - t0} ms after the restart`);
    expect(after.errors).toEqual([]);
    expect(last).toMatchObject({ action: Action.AUTO_ROLLBACK, version });
    expect(last.reason).toMatch(/^hangs: canary 2\.0\.0-hang hung or trapped 3 times within 600 s/);
    // Had the restart reset the count, the record would hold the carried hangs plus this process's three.
    await second.close();
    expect((await record(version))!.hangs.length).toBe(3);
  }, 90_000);

  it("probation - inline kernel mode runs a published version in a worker with its time limit", async () => {
    const gateway = await bench.startProcess("gateway-inline", { probationMs: 60_000 }, { mode: "inline" });
    const version = "3.0.0-loop";
    await bench.publish(version, kernelVariants.loopOnReserve(LIVE_RESERVE));
    await bench.operations.activate("kernel", version, "inline test");
    const rolledBack = bench.rolledBack(version);
    // Were it run inline, the first live call would never return and the load below would hang for good.
    const load = await runLoad(
      routerDecide(gateway.router),
      rolledBack.then(() => sleep(200)),
      2,
    );
    const last = await rolledBack;
    expect(load.errors).toEqual([]);
    expect(last.reason).toMatch(/^probation: active 3\.0\.0-loop failed on call \d+/);
    expect(load.outcomes.some((o) => o.servedBy === "fallback")).toBe(true);
    expect(load.outcomes.every((o) => o.moduleVersion !== version)).toBe(true);
  }, 60_000);

  it("probation - output that breaks the contract is never served: the reference kernel decides, degraded", async () => {
    const gateway = await bench.startProcess("gateway-output", { probationMs: 0 });
    const version = "4.0.0-overbid";
    await bench.publish(version, kernelVariants.overBidOnReserve(LIVE_RESERVE));
    await bench.operations.activate("kernel", version, "output test");
    const rolledBack = bench.rolledBack(version);
    await eventually(() => (gateway.router.activeVersion === version ? true : undefined));
    const routed = await gateway.router.route("d-1", requests[0]!);
    expect(routed.servedBy).toBe("fallback");
    expect(routed.result.moduleVersion).toBe("reference");
    expect(routed.degraded).toMatch(/KernelOutputError: kernel 4\.0\.0-overbid output rejected: winner 0 .* priced/);
    const last = await rolledBack;
    expect(last.reason).toMatch(/^output: active 4\.0\.0-overbid broke the output contract/);
  }, 60_000);
});
