import type { AuctionOutcome } from "../../gen/chorus/v1/agent_pb.ts";
import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { outOfRangeValues } from "../validation/value-bounds.ts";

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const safe = (v: bigint) => v <= MAX_SAFE && v >= -MAX_SAFE;

/**
 * outOfRangeValues(AuctionOutcomeSchema, o) (lib/validation/value-bounds.ts), the check every bus consumer makes,
 * with the entries checked by hand: up to ~50 of them per decision were most of the schema walk an agent host made
 * for every outcome. When every entry is clean the walk covers the rest of the message; when one is not, the whole
 * message is walked, so the problems are the walk's, word for word (auction-outcome-check.spec.ts).
 */
export function auctionOutcomeProblems(o: AuctionOutcome): string[] {
  for (const e of o.entries) {
    let clean =
      Number.isFinite(e.bidMicros) &&
      Number.isFinite(e.predictedResponse) &&
      safe(e.priceMicros) &&
      safe(e.priceToBeatMicros);
    for (let i = 0; clean && i < e.contributions.length; i++) clean = Number.isFinite(e.contributions[i]);
    if (!clean) return outOfRangeValues(AuctionOutcomeSchema, o);
  }
  return outOfRangeValues(AuctionOutcomeSchema, { ...o, entries: [] });
}
