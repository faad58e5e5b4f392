import { Code, ConnectError } from "@connectrpc/connect";
import { errors } from "@nats-io/nats-core";

/**
 * Maps NATS client errors to Connect codes, so a handler can `throw natsToConnectError(err)` and the client sees
 * a status it can act on. The mapping follows gRPC's status code guide: a missing responder or a closed or
 * reconnecting connection is UNAVAILABLE (safe to retry), a request that ran out of time is DEADLINE_EXCEEDED,
 * a permission violation is PERMISSION_DENIED.
 */
export function natsToConnectError(reason: unknown, context: string): ConnectError {
  if (reason instanceof ConnectError) return reason;
  const message = `${context}: ${reason instanceof Error ? reason.message : String(reason)}`;
  if (reason instanceof errors.NoRespondersError)
    return new ConnectError(message, Code.Unavailable, undefined, undefined, reason);
  if (reason instanceof errors.TimeoutError)
    return new ConnectError(message, Code.DeadlineExceeded, undefined, undefined, reason);
  if (reason instanceof errors.PermissionViolationError)
    return new ConnectError(message, Code.PermissionDenied, undefined, undefined, reason);
  if (reason instanceof errors.ClosedConnectionError || reason instanceof errors.RequestError)
    return new ConnectError(message, Code.Unavailable, undefined, undefined, reason);
  return ConnectError.from(reason, Code.Internal);
}
