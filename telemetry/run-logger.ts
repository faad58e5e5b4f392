import type { Logger } from "../lib/log/logger.ts";
import { activeTraceIds } from "./tracing.ts";

/**
 * A child logger for one decision: every line carries `run_id` and, when a span is active, its `trace_id` and
 * `span_id`, so logs, traces and the decision log join on the same keys.
 */
export function runLogger(logger: Logger, runId: string): Logger {
  return logger.child({ run_id: runId, ...activeTraceIds() });
}
