import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "../../lib/log/logger.ts";

/**
 * Normalises anything a handler threw. A ConnectError is the status the client sees; anything else is a bug or an
 * outage the client cannot act on: it becomes INTERNAL "internal error" (the same words connect-node uses) and the
 * cause — stack included — goes to our log, never to the client.
 */
export function toRpcError(reason: unknown, logger: Logger, procedure: string): ConnectError {
  if (reason instanceof ConnectError) return reason;
  logger.error({ err: reason, procedure }, "handler failed");
  return new ConnectError("internal error", Code.Internal, undefined, undefined, reason);
}
