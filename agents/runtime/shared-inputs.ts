import type { DescMessage } from "@bufbuild/protobuf";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { type AuctionOutcome, AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { decodeLearnedOutcomes } from "../../lib/codecs/auction-outcome.ts";
import { auctionOutcomeProblems } from "../../lib/codecs/auction-outcome-check.ts";
import { decodeMessage } from "../../lib/codecs/registry.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { type BadMessageReason, describeError, reportBadMessage } from "../../lib/nats/bad-messages.ts";
import { readMessage } from "../../lib/nats/read-message.ts";

/** One agent taking a shared input: `deliver` gets the decoded message (read-only: every taker gets the same). */
export interface InputTaker {
  /** Names the taker in logs (the agent). */
  readonly name: string;
  /** False while the taker is not running: it gets nothing (and a message nobody accepts is not decoded). */
  accepts(): boolean;
  deliver(message: unknown): void;
}

/** A taker's hold on a shared input. */
export interface InputLease {
  /** Stops the delivery to this taker; the last taker out drains the subscription (resolves when drained). */
  release(): Promise<void>;
}

interface Entry {
  readonly sub: Subscription;
  /** Replaced, never mutated in place, so that a delivery loop in progress is not disturbed by a release. */
  takers: readonly InputTaker[];
}

/**
 * The NATS inputs of the agents of one process: one subscription and one decode per (subject, schema), the decoded
 * message handed to every agent that takes it. Several agents in a host learn from the same messages (Bidding and
 * the Orchestrator both take every AuctionOutcome), and decoding them once per agent was most of a host's CPU.
 * AuctionOutcomes arrive in batches (subjects.auctionOutcomes) and are handed over one by one.
 *
 * Handlers therefore must not mutate their input (agent-module.ts, AgentInput). Which subjects an agent takes
 * (its owned shards) is the taker's choice: a shard subject only some agents own is delivered to those only.
 */
export class SharedInputs {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
  ) {}

  /** Number of NATS subscriptions open (one per distinct subject and schema taken). */
  get subscriptionCount(): number {
    return this.entries.size;
  }

  /** Delivers every message on `subject`, decoded with `schema`, to `taker` until the lease is released. */
  take(subject: string, schema: DescMessage, taker: InputTaker): InputLease {
    const id = `${schema.typeName} ${subject}`;
    let entry = this.entries.get(id);
    if (!entry) entry = this.open(id, subject, schema);
    entry.takers = [...entry.takers, taker];
    const held = entry;
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        held.takers = held.takers.filter((t) => t !== taker);
        if (held.takers.length > 0) return;
        if (this.entries.get(id) === held) this.entries.delete(id);
        if (!held.sub.isClosed()) await held.sub.drain();
      },
    };
  }

  private open(id: string, subject: string, schema: DescMessage): Entry {
    // lib/codecs/registry.ts: a hand-written decoder where the message has one, fromBinary otherwise. AuctionOutcomes
    // (one per decision, up to ~50 entries each) travel in batches, a gateway's 20 ms in one message; each is read
    // as the learners use it (no loser's contributions), checked and delivered on its own, as if it came alone.
    const outcomes = schema.typeName === AuctionOutcomeSchema.typeName;
    const decode = (bytes: Uint8Array) => decodeMessage(schema, bytes);
    const entry: Entry = {
      takers: [],
      sub: this.nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return;
          const takers = entry.takers;
          if (!takers.some((t) => t.accepts())) return;
          if (outcomes) {
            this.deliverOutcomes(msg.subject, msg.data, takers);
            return;
          }
          const read = readMessage(schema, msg.data, decode);
          if (read.ok) this.deliver(msg.subject, read.message, takers);
          else this.report(msg.subject, takers, read.reason, read.detail);
        },
      }),
    };
    this.entries.set(id, entry);
    return entry;
  }

  /** An AuctionOutcomeBatch: its outcomes in order; an out-of-range one is skipped and reported, the others kept. */
  private deliverOutcomes(subject: string, bytes: Uint8Array, takers: readonly InputTaker[]): void {
    let outcomes: AuctionOutcome[];
    try {
      outcomes = decodeLearnedOutcomes(bytes);
    } catch (err) {
      this.report(subject, takers, "undecodable", describeError(err));
      return;
    }
    for (const outcome of outcomes) {
      // The check every bus consumer makes (lib/validation/value-bounds.ts), without the schema walk over clean
      // entries (the same problems: lib/codecs/auction-outcome-check.ts).
      const problems = auctionOutcomeProblems(outcome);
      if (problems.length === 0) this.deliver(subject, outcome, takers);
      else this.report(subject, takers, "out_of_range", problems.slice(0, 5).join("; "));
    }
  }

  private deliver(subject: string, message: unknown, takers: readonly InputTaker[]): void {
    for (const taker of takers) {
      if (!taker.accepts()) continue;
      // One taker's failure must not cost the others the message.
      try {
        taker.deliver(message);
      } catch (e) {
        this.logger.error({ agent: taker.name, subject, err: e }, "input delivery failed");
      }
    }
  }

  private report(subject: string, takers: readonly InputTaker[], reason: BadMessageReason, detail: string): void {
    for (const taker of takers)
      reportBadMessage(this.logger, { consumer: `agent:${taker.name}`, subject, reason, detail });
  }
}
