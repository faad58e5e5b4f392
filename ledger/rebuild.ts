import { fromBinary } from "@bufbuild/protobuf";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { LedgerEntrySchema } from "../gen/chorus/v1/ledger_pb.ts";
import { streams } from "../lib/subjects.ts";
import { SpendTotals } from "./spend-totals.ts";

/**
 * Recomputes the ledger from the events stream alone (an ordered consumer from sequence 1 up to the stream's
 * last sequence at the time of the call). Equal to the live ledger's totals at that sequence, by construction:
 * both are the same fold (SpendTotals) over the same messages.
 */
export async function rebuildLedger(nc: NatsConnection): Promise<SpendTotals> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(streams.events);
  const totals = new SpendTotals();
  const last = BigInt(state.last_seq);
  if (state.messages === 0) return totals;
  const consumer = await jsm.jetstream().consumers.get(streams.events);
  const messages = await consumer.consume({ max_messages: 1_000 });
  for await (const m of messages) {
    totals.apply(BigInt(m.seq), fromBinary(LedgerEntrySchema, m.data));
    if (BigInt(m.seq) >= last) break;
  }
  await messages.close();
  return totals;
}
