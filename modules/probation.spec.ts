/**
 * The rollback rules against real NATS and real WASM workers (hot-swap bench): a hang that is too rare for the
 * share rule is caught by the hang rule, with hangs counted per version across worker replacements and process
 * restarts (the shared record in KV); inline kernel mode never runs a published version on the calling thread;
 * output that breaks the contract is never served.
 */
import { describe, expect, it } from "vitest";
import { ModuleStateChange_Action as Action } from "../gen/chorus/v1/module_pb.ts";
import { makeRequest } from "../wasm-core/src/mod.ts";
import { hotSwapBenchPerFile } from "./testing/bench-per-file.ts";
import {
  eventually,
  inventory,
  LIVE_RESERVE,
  requests,
  routerDecide,
  runLoad,
  sleep,
} from "./testing/hot-swap-fixture.ts";
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

  it("probation - one hang of a canary counts once: the calls queued behind its worker are late, not hangs", async () => {
    // Past probation, a hang limit of 2: had each call queued behind the hung worker counted as a hang (the router's
    // deadline fires before the pool's own watchdog), this one real hang would roll the canary back.
    const config = { probationCalls: 0, probationMs: 0, hangLimit: 2, rollbackErrorRate: 1, callTimeoutMs: 400 };
    const version = "5.0.0-one-loop";
    await bench.publish(version, kernelVariants.loopOnReserve(LIVE_RESERVE));
    const gateway = await bench.startProcess("gateway-queue", config);
    await bench.operations.canary("kernel", version, 100);
    await eventually(() => gateway.router.stats().canary);
    // Requests that never loop keep the one canary worker busy; exactly one request loops.
    const calm = Array.from({ length: 16 }, (_, i) =>
      makeRequest(inventory, { seed: 7000 + i, agents: 6, vetoRate: 0.3, reservePrice: 10 }),
    );
    const stop = sleep(2_500);
    const looping = sleep(500).then(() => gateway.router.route("the-looping-one", requests[0]!));
    const load = await runLoad(
      (id, i) => gateway.router.route(id, calm[i % calm.length]!).then((r) => ({ ...r, moduleVersion: "" })),
      stop,
      6,
    );
    // Both limits are 400 ms: the router's deadline usually fires first, but in a late event loop the pool's own
    // watchdog can run first (CI saw it); either way the looping call degrades, and the hang is counted once below.
    expect((await looping).degraded).toMatch(/canary 5\.0\.0-one-loop: (DeadlineError|KernelTimeoutError)/);
    expect(load.errors).toEqual([]);
    await gateway.close(); // flushes the shared record
    const shared = (await record(version))!;
    console.log(`one real hang under 6 callers: record ${JSON.stringify({ ...shared, lastError: undefined })}`);
    expect(shared.hangs).toHaveLength(1);
    expect(shared.failures).toBeGreaterThan(1); // the queued calls that came late count as failures (share rule)
    expect((await bench.operations.state("kernel")).canaryVersion).toBe(version);
  }, 60_000);
});
