import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { AgentVote } from "../../gen/chorus/v1/agent_pb.ts";
import type { DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import type { AgentName } from "../../lib/subjects.ts";

/**
 * What an agent folder exports (agents/<name>/agent.ts): the contract between an agent's logic and the one shared
 * plumbing (agents/runtime). Stable: the Budget agent and the decision engine build on it. See README.md.
 */

/** Everything a vote may depend on besides the agent state. */
export interface VoteContext {
  readonly runId: string;
  readonly request: DecideRequest;
  /** The candidates, in inventory order: vote arrays are indexed like `inventory.candidates`. */
  readonly inventory: Inventory;
  readonly nowMs: number;
  /** Sequential coordination only: the votes of the agents that ran before (empty otherwise). */
  readonly priorVotes: readonly AgentVote[];
}

/** What an input handler may look at besides the message. */
export interface HandlerContext {
  readonly nowMs: number;
  /** The live catalog (the same order every process sees). */
  inventory(): Inventory;
  /** Whether this instance owns a state key (a user shard arriving on an unsharded subject may belong to a peer). */
  owns(key: string): boolean;
}

/** Keys of the state a handler changed: the runtime republishes and persists those (coalesced). */
export type DirtyKeys = Iterable<string> | undefined;

/**
 * A NATS input: every message on `subject` is decoded with `schema` and handed to `handle`. A subject given as a
 * function of the user shard is subscribed once per shard the instance owns (per-user state); a plain subject is
 * subscribed by every instance (every instance sees every message).
 *
 * The message is read-only: agents of one process that take the same subject and schema are handed the same decoded
 * object (agents/runtime/shared-inputs.ts, one decode per host), so a handler must not change it, nor a part of it
 * it keeps in its state (copy what it needs to change: `[...list].sort()`, not `list.sort()`).
 */
export interface AgentInput<S, M extends DescMessage = DescMessage> {
  readonly subject: string | ((shard: number) => string);
  readonly schema: M;
  handle(state: S, message: MessageShape<M>, ctx: HandlerContext): DirtyKeys;
}

/** `global`: one state key "global"; `user-shards`: one key per user shard ("0" .. USER_SHARDS-1). */
export type KeySpace = "global" | "user-shards";

export interface AgentModule<S = unknown, M extends DescMessage = DescMessage> {
  readonly name: AgentName;
  /** Reported in AgentVote.module_version, DecideResponse.module_versions and the micro-service version. */
  readonly version: string;
  readonly description: string;
  readonly keySpace: KeySpace;
  /** Protobuf schema of the agent's signal (state snapshot), in gen/chorus/v1/agent_signals_pb.ts. */
  readonly signalSchema: M;
  /** A fresh state. The vote on a fresh state is the agent's neutral vote (its prior). */
  createState(): S;
  /**
   * The state under `key` as a signal. "full": everything (stored in KV); "delta": what changed since the previous
   * delta (published for `cached` coordination; may equal "full" for small states).
   */
  snapshot(state: S, key: string, scope: "full" | "delta"): MessageShape<M>;
  /** Merges a signal (full or delta) into the state: entries it carries replace the state's. */
  restore(state: S, key: string, signal: MessageShape<M>): void;
  /** Pure: (context, state) -> vote. Never mutates the state; the same code runs in the agent and the gateway. */
  vote(ctx: VoteContext, state: S): AgentVote;
  readonly inputs: readonly AgentInput<S>[];
  /**
   * How often changed state is republished as signals (default 50 ms). A learner whose state changes on every
   * auction but whose votes drift slowly (bidding, relevance) publishes less often: every signal is encoded here
   * and decoded by every gateway, and at hundreds of decisions a second that cost more than the votes themselves.
   */
  readonly signalIntervalMs?: number;
  /** Periodic upkeep (eviction, pre-computation); returns the keys it changed. */
  tick?(state: S, nowMs: number): DirtyKeys;
  /**
   * Erasure (`chorus users forget`): drops everything the state keeps about these listeners (bus pseudonyms) and
   * returns the keys it changed. Agents that keep nothing per listener leave it out.
   */
  forget?(state: S, pseudonyms: ReadonlySet<string>): DirtyKeys;
}

/** Erases the message type of an input so that one agent can list inputs of several schemas. */
export function agentInput<S, M extends DescMessage>(input: AgentInput<S, M>): AgentInput<S> {
  return input as unknown as AgentInput<S>;
}

/** Any agent module, whatever its state type (for registries and the engine). */
// biome-ignore lint/suspicious/noExplicitAny: the state type is private to each agent; callers only pass it back.
export type AnyAgentModule = AgentModule<any, DescMessage>;

export const GLOBAL_KEY = "global";
