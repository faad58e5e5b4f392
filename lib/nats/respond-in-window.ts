import type { Msg } from "@nats-io/nats-core";
import { RESPONSE_WINDOW_MS } from "./permissions.ts";

/** Left for the request's way in (socket, parse) and the reply's way out, which the responder does not see. */
const MARGIN_MS = 500;

/**
 * Answers `msg` unless it arrived here (`receivedAt`, performance.now()) more than the server's response window
 * less a margin ago. nats-server lets a responder answer only within RESPONSE_WINDOW_MS of the delivery and counts
 * a later reply as a permission violation; the requester gave up long before anyway. An answer that had to wait
 * (a JetStream publish during an election, a starved process) is dropped instead. True if it answered.
 */
export function respondInWindow(msg: Msg, data: Uint8Array, receivedAt: number): boolean {
  if (performance.now() - receivedAt > RESPONSE_WINDOW_MS - MARGIN_MS) return false;
  return msg.respond(data);
}
