import type { NatsConnection } from "@nats-io/nats-core";
import type { AuctionOutcome } from "../../gen/chorus/v1/agent_pb.ts";
import { encodeAuctionOutcome, joinEncodedOutcomes } from "../../lib/codecs/auction-outcome.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { pieceLimit } from "../../lib/nats/message-pieces.ts";
import { subjects } from "../../lib/subjects.ts";

/** How long a batch stays open after its first outcome: learners hear of a decision at most about this much later. */
export const OUTCOME_WINDOW_MS = 2;
/** Room for an outcome's tag and length inside the batch (a length of up to 2^28 bytes). */
const FRAMING = 5;

/**
 * The AuctionOutcomes of one short window published as one AuctionOutcomeBatch (subjects.auctionOutcomes), in the
 * order they were added. Each learning agent host paid a NATS message (delivery, parsing, dispatch) per decision,
 * and the gateway a publish; now once per window. Each outcome is encoded when it is added (the batch holds bytes,
 * not the decision's objects), and a batch that would pass the connection's max payload is published first.
 * Nothing is dropped on the way out: `flush` publishes what is waiting.
 */
export class OutcomeBatcher {
  #pending: Uint8Array[] = [];
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #limit: number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
    readonly windowMs = OUTCOME_WINDOW_MS,
  ) {
    this.#limit = pieceLimit(nc.info?.max_payload);
  }

  /** Number of outcomes waiting for the window to close. */
  get pending(): number {
    return this.#pending.length;
  }

  add(outcome: AuctionOutcome): void {
    const bytes = encodeAuctionOutcome(outcome);
    if (this.#pending.length > 0 && this.#bytes + bytes.length + FRAMING > this.#limit) this.flush();
    this.#pending.push(bytes);
    this.#bytes += bytes.length + FRAMING;
    this.#timer ??= setTimeout(() => this.flush(), this.windowMs);
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const outcomes = this.#pending;
    if (outcomes.length === 0) return;
    this.#pending = [];
    this.#bytes = 0;
    try {
      this.nc.publish(subjects.auctionOutcomes, joinEncodedOutcomes(outcomes));
    } catch (err) {
      // Learning loses these examples; no response depends on them.
      this.logger.warn({ err, outcomes: outcomes.length }, "auction outcomes not published");
    }
  }
}
