import type { DecideRequest, DecideResponse, PlaybackSignal } from "../../gen/chorus/v1/decision_pb.ts";

/**
 * The seams of the gateway. The protocol layer (gateway/server) only knows these interfaces and the ledger's
 * (ledger/ports.ts: EventSink, SpendGuard); the decide pipeline (gateway/decide) and the playback sink implement them. Tests of one side use the real
 * other side wherever it can run.
 */

/** What a decision reads of its call's cancellation (an AbortSignal is one; gateway/server/lazy-abort.ts is cheaper). */
export type Cancellation = Pick<AbortSignal, "aborted" | "reason">;

/** Decides one ad break. Throws ConnectError for anything the client should see as a status. */
export interface DecisionEngine {
  decide(request: DecideRequest, options: { signal?: Cancellation }): Promise<DecideResponse>;
}

/** Playback signals: published on NATS for the Intent and Timing agents. Returns how many were accepted. */
export interface PlaybackSink {
  publish(signals: readonly PlaybackSignal[]): Promise<number>;
}

/**
 * Decisions for the plain HTTP protocols (VAST, OpenRTB): the caller's API key checked as for Decide (a decide
 * or admin key, the key's rate limit), the decision made once per key and request id, and every ad signed with
 * its event token, exactly as the Decide RPC does.
 */
export interface HttpDecisions {
  /** Throws ConnectError UNAUTHENTICATED, PERMISSION_DENIED or RESOURCE_EXHAUSTED; returns the key's id. */
  authorize(authorization: string | undefined): { keyId: string };
  decide(caller: { keyId: string }, request: DecideRequest, signal: AbortSignal): Promise<DecideResponse>;
}
