import { readdirSync, readFileSync } from "node:fs";

/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream architecture. */
const TICKS_PER_SECOND = 100;

export interface ProcessUsage {
  name: string;
  pid: number;
  /** Average CPU over the window, in % of one core (200% = both cores of a 2-core machine). */
  cpuPercent: number;
  /** Highest sampled resident memory of the process and its descendants, MiB. */
  peakRssMb: number;
}

/** The whole machine over the same window (from /proc/stat): was it saturated, and by whom. */
export interface MachineUsage {
  /** Busy time of all cores, % of the machine (100 = every core busy all the time). */
  busyPercent: number;
  /** Busy time not used by the watched processes, in % of one core: other work sharing the machine. */
  outsidePercent: number;
  /** Time the hypervisor ran something else on our virtual cores, % of the machine. */
  stealPercent: number;
}

interface Watched {
  name: string;
  pid: number;
  startTicks: number;
  lastTicks: number;
  peakRssKb: number;
}

/**
 * Samples CPU time and resident memory of named processes from /proc (what pidusage does, without a dependency).
 * Each process counts with its descendants, so a process started through a wrapper (tsx, npm) is measured whole.
 * A process that exits keeps the CPU it had used at its last sample.
 */
export class ProcessSampler {
  private watched: Watched[] = [];
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private machineAtStart: CpuTimes | undefined;
  /** The machine over the last window, set by stop() (undefined where /proc/stat cannot be read). */
  machine: MachineUsage | undefined;

  constructor(private readonly intervalMs = 200) {}

  start(processes: readonly { name: string; pid: number }[]): this {
    this.stop();
    this.startedAt = performance.now();
    this.machineAtStart = cpuTimes();
    this.machine = undefined;
    this.watched = processes.map(({ name, pid }) => {
      const { ticks, rssKb } = treeUsage(pid);
      return { name, pid, startTicks: ticks, lastTicks: ticks, peakRssKb: rssKb };
    });
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Stops sampling and returns the usage over the window since start(). */
  stop(): ProcessUsage[] {
    if (!this.timer) return [];
    this.sample();
    clearInterval(this.timer);
    this.timer = undefined;
    const seconds = Math.max(0.001, (performance.now() - this.startedAt) / 1000);
    const usage = this.watched.map((w) => ({
      name: w.name,
      pid: w.pid,
      cpuPercent: Math.round(((w.lastTicks - w.startTicks) / TICKS_PER_SECOND / seconds) * 1000) / 10,
      peakRssMb: Math.round(w.peakRssKb / 102.4) / 10,
    }));
    const [before, after] = [this.machineAtStart, cpuTimes()];
    if (before && after && after.total > before.total) {
      const total = after.total - before.total;
      const busy = after.busy - before.busy;
      const cores = total / TICKS_PER_SECOND / seconds;
      const watched = usage.reduce((sum, u) => sum + u.cpuPercent, 0);
      this.machine = {
        busyPercent: Math.round((busy / total) * 1000) / 10,
        outsidePercent: Math.max(0, Math.round(((busy / total) * cores * 100 - watched) * 10) / 10),
        stealPercent: Math.round(((after.steal - before.steal) / total) * 1000) / 10,
      };
    }
    return usage;
  }

  private sample(): void {
    for (const w of this.watched) {
      const { ticks, rssKb, alive } = treeUsage(w.pid);
      if (!alive) continue;
      w.lastTicks = Math.max(w.lastTicks, ticks);
      w.peakRssKb = Math.max(w.peakRssKb, rssKb);
    }
  }
}

interface CpuTimes {
  total: number;
  busy: number;
  steal: number;
}

/** The machine's CPU ticks so far (first line of /proc/stat: user nice system idle iowait irq softirq steal). */
function cpuTimes(): CpuTimes | undefined {
  const line = readProc("/proc/stat")?.split("\n", 1)[0];
  if (!line?.startsWith("cpu ")) return undefined;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = user! + nice! + system! + irq! + softirq!;
  return { total: busy + idle! + iowait! + steal!, busy, steal: steal! };
}

/** CPU ticks (user + system) and RSS of a process and all its descendants. */
export function treeUsage(pid: number): { ticks: number; rssKb: number; alive: boolean } {
  let ticks = 0;
  let rssKb = 0;
  let alive = false;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    const stat = readProc(`/proc/${p}/stat`);
    if (!stat) continue;
    alive = true;
    // Fields after the command name (which may contain spaces): utime is field 14, stime 15 (1-based).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
    const rss = /VmRSS:\s+(\d+) kB/.exec(readProc(`/proc/${p}/status`) ?? "");
    rssKb += rss ? Number(rss[1]) : 0;
    stack.push(...children(p));
  }
  return { ticks, rssKb, alive };
}

function children(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tasks.flatMap((tid) =>
    (readProc(`/proc/${pid}/task/${tid}/children`) ?? "").split(" ").filter(Boolean).map(Number),
  );
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
