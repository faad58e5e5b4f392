import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { ProcessSampler, treeUsage } from "./process-sampler.ts";

describe("process sampler", () => {
  it("process sampler - agrees with the CPU time Node reports for itself, and sees its memory", async () => {
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const sampler = new ProcessSampler(50).start([{ name: "self", pid: process.pid }]);
    const until = performance.now() + 500;
    while (performance.now() < until);
    const [self] = sampler.stop();
    const cpu = process.cpuUsage(cpuBefore);
    // Node's own figure, in % of a core over the same window (the machine may be shared: compare, do not assume).
    const nodePercent = ((cpu.user + cpu.system) / 1000 / (performance.now() - started)) * 100;
    expect(self!.name).toBe("self");
    expect(nodePercent).toBeGreaterThan(5);
    expect(Math.abs(self!.cpuPercent - nodePercent)).toBeLessThan(15);
    expect(self!.peakRssMb).toBeGreaterThan(10);
    // The machine was at least as busy as this process kept it; what else ran is reported beside it.
    const machine = sampler.machine!;
    expect(machine.busyPercent).toBeGreaterThanOrEqual(self!.cpuPercent / availableParallelism() - 10);
    expect(machine.busyPercent).toBeLessThanOrEqual(100);
    expect(machine.outsidePercent).toBeGreaterThanOrEqual(0);
    expect(machine.stealPercent).toBeGreaterThanOrEqual(0);
  });

  it("process sampler - a process that does not exist is reported dead, not as an error", () => {
    expect(treeUsage(2 ** 22 + 12345)).toEqual({ ticks: 0, rssKb: 0, alive: false });
  });
});
