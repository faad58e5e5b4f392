import { createLogger, type Logger } from "../log/logger.ts";

/**
 * One bad thing (a malformed catalog entry, a handler bug, a timer that throws) costs that one thing, never the
 * process: every watcher, timer and listener runs through `guard`, which catches, logs and counts. The counts are
 * exported as chorus_survived_errors_total{where} (telemetry/metrics.ts) so that a survived error is seen.
 */
const counts = new Map<string, number>();
let fallbackLogger: Logger | undefined;
const logOf = (logger?: Logger) => {
  if (logger) return logger;
  fallbackLogger ??= createLogger("chorus");
  return fallbackLogger;
};

/** Errors survived so far, by where they were caught. */
export function survivedErrors(): ReadonlyMap<string, number> {
  return counts;
}

/** Logs and counts an error that was caught and survived. */
export function survive(where: string, err: unknown, logger?: Logger, fields: Record<string, unknown> = {}): void {
  counts.set(where, (counts.get(where) ?? 0) + 1);
  try {
    logOf(logger).error({ ...fields, where, err }, `${where}: error caught and survived`);
  } catch {
    // A logger that throws must not turn a survived error into a fatal one.
  }
}

/**
 * `fn` that never throws nor rejects: a synchronous throw or a rejected promise is logged and counted under
 * `where`. For timer callbacks, event listeners and watcher steps.
 */
export function guard<A extends unknown[]>(where: string, fn: (...args: A) => unknown, logger?: Logger) {
  return (...args: A): void => {
    try {
      const out = fn(...args);
      if (out instanceof Promise) out.catch((err: unknown) => survive(where, err, logger));
    } catch (err) {
      survive(where, err, logger);
    }
  };
}

/** setInterval whose callback is guarded. */
export function guardedInterval(where: string, ms: number, fn: () => unknown, logger?: Logger): NodeJS.Timeout {
  return setInterval(guard(where, fn, logger), ms);
}

export interface CrashGuardOptions {
  logger?: Logger;
  /** Past this many uncaught errors within `windowMs`, the process exits (1) for its supervisor to restart it. */
  maxErrors?: number;
  windowMs?: number;
  exit?: (code: number) => void;
}

let installed = false;

/**
 * The last line: an error nothing caught (a rejected promise nobody awaited, a throw in a callback of a library)
 * is logged and counted, and the process keeps serving. A burst of them (state is likely broken) ends the process
 * so that the supervisor (lib/process/supervisor.ts) starts a fresh one: a crash loop is reported there, not
 * hidden here.
 */
export function installCrashGuards(options: CrashGuardOptions = {}): void {
  if (installed) return;
  installed = true;
  const maxErrors = options.maxErrors ?? 20;
  const windowMs = options.windowMs ?? 10_000;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const recent: number[] = [];
  const onError = (where: string) => (err: unknown) => {
    survive(where, err, options.logger);
    const now = Date.now();
    recent.push(now);
    while (recent.length > 0 && recent[0]! < now - windowMs) recent.shift();
    if (recent.length > maxErrors) {
      logOf(options.logger).fatal({ errors: recent.length, windowMs }, "too many uncaught errors: exiting");
      exit(1);
    }
  };
  process.on("uncaughtException", onError("uncaught exception"));
  process.on("unhandledRejection", onError("unhandled rejection"));
}
