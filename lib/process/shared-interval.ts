import type { Logger } from "../log/logger.ts";
import { guard } from "./survive.ts";

export interface IntervalHandle {
  stop(): void;
}

const periods = new Map<number, { timer: NodeJS.Timeout; tasks: Set<() => void> }>();

/**
 * Like guardedInterval, but every task of the same period in this process runs from one timer: an agent host's
 * agents each have heartbeat, persist and tick timers of 1 s, and a dozen timers started a few ms apart wake an idle
 * process a dozen times a second where one wake-up does the same work (and their publishes leave in one write).
 * The timer is unref'd: it never keeps a process alive by itself.
 */
export function sharedInterval(where: string, ms: number, fn: () => unknown, logger?: Logger): IntervalHandle {
  let period = periods.get(ms);
  if (!period) {
    const tasks = new Set<() => void>();
    const timer = setInterval(() => {
      for (const task of tasks) task();
    }, ms);
    timer.unref();
    period = { timer, tasks };
    periods.set(ms, period);
  }
  const task = guard(where, fn, logger);
  period.tasks.add(task);
  const owner = period;
  return {
    stop() {
      owner.tasks.delete(task);
      if (owner.tasks.size === 0 && periods.get(ms) === owner) {
        clearInterval(owner.timer);
        periods.delete(ms);
      }
    },
  };
}
