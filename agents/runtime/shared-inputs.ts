import type { DescMessage } from "@bufbuild/protobuf";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { type AuctionOutcome, AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { decodeLearnedOutcome } from "../../lib/codecs/auction-outcome.ts";
import { auctionOutcomeProblems } from "../../lib/codecs/auction-outcome-check.ts";
import { decodeMessage } from "../../lib/codecs/registry.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { reportBadMessage } from "../../lib/nats/bad-messages.ts";
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
    // lib/codecs/registry.ts: a hand-written decoder where the message has one, fromBinary otherwise. The
    // AuctionOutcome (one per decision, up to ~50 entries) is read as the learners use it (no loser's contributions)
    // and its value check skips the schema walk over clean entries (same problems, lib/codecs/auction-outcome-check.ts).
    const outcome = schema.typeName === AuctionOutcomeSchema.typeName;
    const decode = outcome ? decodeLearnedOutcome : (bytes: Uint8Array) => decodeMessage(schema, bytes);
    const check = outcome ? (_: DescMessage, o: unknown) => auctionOutcomeProblems(o as AuctionOutcome) : undefined;
    const entry: Entry = {
      takers: [],
      sub: this.nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return;
          const takers = entry.takers;
          if (!takers.some((t) => t.accepts())) return;
          const read = readMessage(schema, msg.data, decode, check);
          if (!read.ok) {
            for (const taker of takers)
              reportBadMessage(this.logger, {
                consumer: `agent:${taker.name}`,
                subject: msg.subject,
                reason: read.reason,
                detail: read.detail,
              });
            return;
          }
          const message = read.message;
          for (const taker of takers) {
            if (!taker.accepts()) continue;
            // One taker's failure must not cost the others the message.
            try {
              taker.deliver(message);
            } catch (e) {
              this.logger.error({ agent: taker.name, subject: msg.subject, err: e }, "input delivery failed");
            }
          }
        },
      }),
    };
    this.entries.set(id, entry);
    return entry;
  }
}
