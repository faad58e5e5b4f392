import type { NatsConnection } from "@nats-io/nats-core";
import type { AuctionOutcome } from "../../gen/chorus/v1/agent_pb.ts";
import { encodeAuctionOutcome, joinEncodedOutcomes } from "../../lib/codecs/auction-outcome.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { pieceLimit } from "../../lib/nats/message-pieces.ts";
import { subjects } from "../../lib/subjects.ts";

/**
 * A batch this old is published by the next outcome added (which opens the next batch). An agent host pays mostly
 * per message (its wake-up, delivery, parsing): its AuctionOutcome input path cost 127 -> 111 us per outcome with
 * 2 ms windows at 1,000/s (nothing gained at 100/s), and 175 -> 102 us at 1,000/s, 577 -> 301 us at 100/s with
 * 20 ms windows (interleaved runs against one message per outcome, load 2-6). Learners hear of a decision up to
 * this much later; what they learn is credited when its ad events come, which is when the ad has played.
 */
export const OUTCOME_WINDOW_MS = 20;
/**
 * A batch no outcome followed is published by a timer this long after it opened: learners hear of a decision at
 * most this much later. Not the window itself: at low rates a timer per window woke the gateway once more per
 * decision, while the next decisions close the window on turns the loop makes anyway.
 */
export const OUTCOME_MAX_WAIT_MS = 50;
/** Room for an outcome's tag and length inside the batch (a length of up to 2^28 bytes). */
const FRAMING = 5;

/**
 * The AuctionOutcomes of one short window published as one AuctionOutcomeBatch (subjects.auctionOutcomes), in the
 * order they were added. Each learning agent host paid a NATS message (delivery, parsing, dispatch) per decision,
 * and the gateway a publish; now once per window: a batch is published by the first outcome added `windowMs` or
 * more after it opened, or `maxWaitMs` after it opened if none comes. Each outcome is encoded when it is added (the
 * batch holds bytes, not the decision's objects), and a batch that would pass the connection's max payload is
 * published first. Nothing is dropped on the way out: `flush` publishes what is waiting.
 */
export class OutcomeBatcher {
  #pending: Uint8Array[] = [];
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #openedAt = 0;
  readonly #limit: number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
    readonly windowMs = OUTCOME_WINDOW_MS,
    readonly maxWaitMs = OUTCOME_MAX_WAIT_MS,
  ) {
    this.#limit = pieceLimit(nc.info?.max_payload);
  }

  /** Number of outcomes waiting for the window to close. */
  get pending(): number {
    return this.#pending.length;
  }

  add(outcome: AuctionOutcome): void {
    const bytes = encodeAuctionOutcome(outcome);
    const now = performance.now();
    if (
      this.#pending.length > 0 &&
      (now - this.#openedAt >= this.windowMs || this.#bytes + bytes.length + FRAMING > this.#limit)
    )
      this.flush();
    if (this.#pending.length === 0) {
      this.#openedAt = now;
      this.#timer = setTimeout(() => this.flush(), this.maxWaitMs);
    }
    this.#pending.push(bytes);
    this.#bytes += bytes.length + FRAMING;
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
