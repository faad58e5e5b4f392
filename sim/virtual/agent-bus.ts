import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import { decodeAuctionOutcome, encodeAuctionOutcome } from "../../lib/codecs/auction-outcome.ts";
import { USER_SHARDS } from "../../lib/subjects.ts";
import type { AnyAgentModule, HandlerContext } from "../../voting/contract/agent-module.ts";

/**
 * The agents of one process on a simulated clock: each agent module's own state, its input handlers fed by
 * subject as NATS would route them (wildcards, per-shard subjects), and its periodic tick. A message is handed to
 * every taker as is, as agents/runtime/shared-inputs.ts hands one decoded message to every agent of a host (handlers
 * treat it as read-only; a spec checks that). `wire: true` sends it through the codecs the mesh uses on the wire
 * first (slower; to check that nothing depends on the in-memory form). Time is whatever the caller says it is:
 * nothing here reads the wall clock.
 */
export class AgentBus {
  readonly states = new Map<string, unknown>();
  /** Messages a handler threw on (lost, as the runtime loses them, never the process). */
  handlerErrors = 0;
  private nowMs = 0;
  private readonly ctx: HandlerContext;
  /** Per (subject, schema): the handlers that take it; resolved once per subject. */
  private readonly routes = new Map<string, ((message: unknown) => void)[]>();

  constructor(
    readonly modules: readonly AnyAgentModule[],
    inventory: () => Inventory,
    private readonly wire = false,
  ) {
    for (const m of modules) this.states.set(m.name, m.createState());
    const bus = this;
    this.ctx = {
      get nowMs() {
        return bus.nowMs;
      },
      inventory,
      owns: () => true,
    };
  }

  state(agent: string): unknown {
    return this.states.get(agent);
  }

  /** Publishes `message` on `subject` at `nowMs`: every agent input taking it gets the decoded copy. */
  publish<M extends DescMessage>(subject: string, schema: M, message: MessageShape<M>, nowMs: number): void {
    this.nowMs = nowMs;
    const takers = this.takers(subject, schema);
    if (takers.length === 0) return;
    const decoded = !this.wire
      ? message
      : (schema as DescMessage) === AuctionOutcomeSchema
        ? decodeAuctionOutcome(encodeAuctionOutcome(message as never))
        : fromBinary(schema, toBinary(schema, message));
    for (const deliver of takers) deliver(decoded);
  }

  /** Runs every agent's periodic upkeep at `nowMs` (the runtime's tick). */
  tick(nowMs: number): void {
    this.nowMs = nowMs;
    for (const m of this.modules) m.tick?.(this.states.get(m.name), nowMs);
  }

  private takers(subject: string, schema: DescMessage): ((message: unknown) => void)[] {
    // Routes are remembered by the subject's first three tokens (agent, kind, shard or event type): every input
    // pattern is either a shard's subject or ends in ">" by then, and the rest of an event's subject is unique.
    const key = `${schema.typeName} ${subject.split(".", 3).join(".")}`;
    let takers = this.routes.get(key);
    if (takers) return takers;
    takers = [];
    for (const m of this.modules) {
      const state = this.states.get(m.name);
      for (const input of m.inputs) {
        if (input.schema !== schema) continue;
        const patterns =
          typeof input.subject === "string"
            ? [input.subject]
            : Array.from({ length: USER_SHARDS }, (_, s) => (input.subject as (shard: number) => string)(s));
        if (patterns.some((p) => subjectMatches(p, subject)))
          takers.push((message) => {
            try {
              input.handle(state, message as never, this.ctx);
            } catch {
              this.handlerErrors++;
            }
          });
      }
    }
    this.routes.set(key, takers);
    return takers;
  }
}

/** NATS subject matching: `*` is one token, a trailing `>` one or more. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}
