import { type Logger, pino } from "pino";

export type { Logger };

/** One JSON logger per process; components take a child with their name (`logger.child({ component })`). */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
