import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "../../lib/log/logger.ts";
import { natsToConnectError } from "../../lib/nats/nats-error.ts";

/**
 * Normalises anything a handler threw. A ConnectError is the status the client sees; anything else is a bug or an
 * outage the client cannot act on: it becomes INTERNAL "internal error" (the same words connect-node uses) and the
 * cause — stack included — goes to our log, never to the client.
 */
export function toRpcError(reason: unknown, logger: Logger, procedure: string): ConnectError {
  if (reason instanceof ConnectError) return reason;
  // A bus error no handler mapped (a timeout or no responder while the mesh is overloaded or failing over) is
  // something the client can act on: UNAVAILABLE / DEADLINE_EXCEEDED, not INTERNAL.
  const bus = natsToConnectError(reason, "message bus");
  if (bus.code !== Code.Internal) {
    logger.warn({ err: reason, procedure }, "handler failed on the message bus");
    return bus;
  }
  logger.error({ err: reason, procedure }, "handler failed");
  return new ConnectError("internal error", Code.Internal, undefined, undefined, reason);
}
