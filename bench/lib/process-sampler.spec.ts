import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { Supervised } from "../../lib/process/supervisor.ts";
import { blockLoop } from "../../lib/testing/block-loop.ts";
import { ProcessSampler, type RestartEvent, treeUsage } from "./process-sampler.ts";

describe("process sampler", () => {
  it("process sampler - agrees with the CPU time Node reports for itself, and sees its memory", async () => {
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const sampler = new ProcessSampler(50).start([{ name: "self", pid: process.pid }]);
    blockLoop(500);
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

  it("process sampler - follows a supervised process to its new pid after a restart and reports the restart", async () => {
    // A real supervised child that exits after 1.5 s and is started again by the supervisor (new pid).
    const child = await Supervised.start(
      { name: "flaky", entry: "lib/process/testing/short-lived-child", env: { CHILD_LIFETIME_MS: "1500" } },
      { silent: true, backoffMs: 100, report: () => {} },
    );
    try {
      const firstPid = child.pid;
      const seen: RestartEvent[] = [];
      const sampler = new ProcessSampler(50);
      sampler.onRestart = (e) => seen.push(e);
      sampler.start([child]);
      const until = Date.now() + 60_000;
      while ((child.restarts < 1 || child.pid === firstPid) && Date.now() < until)
        await new Promise((r) => setTimeout(r, 50));
      // Let the sampler see the new process alive for a few samples.
      await new Promise((r) => setTimeout(r, 400));
      const secondPid = child.pid;
      const [usage] = sampler.stop();
      expect(secondPid).not.toBe(firstPid);
      expect(seen[0]).toMatchObject({ name: "flaky", oldPid: firstPid });
      expect(sampler.restartEvents.length).toBeGreaterThanOrEqual(1);
      expect(usage!.restarts).toBeGreaterThanOrEqual(1);
      // Measured is the current process (alive, with memory), not the first one's last figures.
      expect(seen.at(-1)!.newPid).toBe(secondPid);
      expect(usage!.pid).toBe(secondPid);
      expect(treeUsage(secondPid).alive).toBe(true);
      expect(usage!.lastRssMb).toBeGreaterThan(10);
      expect(usage!.cpuPercent).toBeGreaterThanOrEqual(0);
    } finally {
      await child.stop();
    }
  }, 90_000);
});
