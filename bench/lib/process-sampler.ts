import { readdirSync, readFileSync } from "node:fs";

/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream architecture. */
const TICKS_PER_SECOND = 100;

export interface ProcessUsage {
  name: string;
  /** The pid at the end of the window (a restarted process's new one). */
  pid: number;
  /** Average CPU over the window, in % of one core (200% = both cores of a 2-core machine). */
  cpuPercent: number;
  /** Highest sampled resident memory of the process and its descendants, MiB. */
  peakRssMb: number;
  /** Resident memory at the last sample, MiB. */
  lastRssMb?: number;
  /** Restarts seen in the window (the watched entry's pid changed). */
  restarts?: number;
}

/** A watched process whose pid changed between two samples: a supervisor started it again. */
export interface RestartEvent {
  name: string;
  oldPid: number;
  newPid: number;
  /** Wall-clock time of the sample that saw it (ms since the epoch). */
  seenAt: number;
}

/**
 * What to watch: a name and a pid read at every sample, so an object whose `pid` is a getter (a supervised child,
 * lib/process/supervisor.ts) is followed across restarts instead of being lost with its first process.
 */
export interface WatchedProcess {
  readonly name: string;
  readonly pid: number;
  /** False: the process alone (a load client that is itself the parent of the processes it measures). */
  readonly descendants?: boolean;
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
  source: WatchedProcess;
  name: string;
  pid: number;
  startTicks: number;
  lastTicks: number;
  /** CPU ticks of earlier processes of this entry within the window (before a restart). */
  carriedTicks: number;
  peakRssKb: number;
  lastRssKb: number;
  restarts: number;
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
  /** Every restart seen since this sampler was made (across windows), in order. */
  readonly restartEvents: RestartEvent[] = [];
  /** Called when a restart is seen (e.g. to print it at once). */
  onRestart: ((event: RestartEvent) => void) | undefined;

  constructor(private readonly intervalMs = 200) {}

  start(processes: readonly WatchedProcess[]): this {
    this.stop();
    this.startedAt = performance.now();
    this.machineAtStart = cpuTimes();
    this.machine = undefined;
    this.watched = processes.map((source) => {
      const pid = source.pid;
      const { ticks, rssKb } = treeUsage(pid, source.descendants);
      return {
        source,
        name: source.name,
        pid,
        startTicks: ticks,
        lastTicks: ticks,
        carriedTicks: 0,
        peakRssKb: rssKb,
        lastRssKb: rssKb,
        restarts: 0,
      };
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
      cpuPercent: Math.round(((w.carriedTicks + w.lastTicks - w.startTicks) / TICKS_PER_SECOND / seconds) * 1000) / 10,
      peakRssMb: Math.round(w.peakRssKb / 102.4) / 10,
      lastRssMb: Math.round(w.lastRssKb / 102.4) / 10,
      restarts: w.restarts,
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
      const pid = w.source.pid;
      if (pid !== w.pid) {
        // Restarted: the old process's CPU up to its last sample is kept, the new one counted from its start
        // (it began after that sample), and its memory is what is measured from now on.
        const event = { name: w.name, oldPid: w.pid, newPid: pid, seenAt: Date.now() };
        this.restartEvents.push(event);
        this.onRestart?.(event);
        w.carriedTicks += w.lastTicks - w.startTicks;
        w.pid = pid;
        w.startTicks = 0;
        w.lastTicks = 0;
        w.restarts++;
      }
      const { ticks, rssKb, alive } = treeUsage(w.pid, w.source.descendants);
      if (!alive) continue;
      w.lastTicks = Math.max(w.lastTicks, ticks);
      w.peakRssKb = Math.max(w.peakRssKb, rssKb);
      w.lastRssKb = rssKb;
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

/** CPU ticks (user + system) and RSS of a process and all its descendants (or the process alone). */
export function treeUsage(pid: number, descendants = true): { ticks: number; rssKb: number; alive: boolean } {
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
    rssKb += rssKbOf(p);
    if (descendants) stack.push(...children(p));
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

/** A process's resident memory in KiB from /proc (0 when it is gone). */
export function rssKbOf(pid: number): number {
  const rss = /VmRSS:\s+(\d+) kB/.exec(readProc(`/proc/${pid}/status`) ?? "");
  return rss ? Number(rss[1]) : 0;
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
