import { fromBinary } from "@bufbuild/protobuf";
import { jetstreamManager, type StreamState } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { LedgerEntrySchema, type LedgerSnapshot } from "../gen/chorus/v1/ledger_pb.ts";
import { RESUMING_CONSUME } from "../lib/nats/consume-options.ts";
import { streams } from "../lib/subjects.ts";
import { queryLedger } from "./ledger.ts";
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
  const messages = await consumer.consume({ ...RESUMING_CONSUME, max_messages: 1_000 });
  for await (const m of messages) {
    totals.apply(BigInt(m.seq), fromBinary(LedgerEntrySchema, m.data));
    if (BigInt(m.seq) >= last) break;
  }
  await messages.close();
  return totals;
}

/** What a fault run checks at its end: the events stream, the live ledger caught up with it, and a rebuild. */
export interface SettledLedger {
  readonly stream: StreamState;
  readonly live: LedgerSnapshot;
  readonly rebuilt: LedgerSnapshot;
}

/**
 * After a fault run: waits (up to `timeoutMs`) until the live ledger has folded every message the events stream
 * holds, then rebuilds the ledger from the stream alone. JetStream calls are retried: the last fault may have been
 * a server restart, and JetStream answers again once it has recovered its streams.
 */
export async function settleLedger(nc: NatsConnection, timeoutMs = 120_000): Promise<SettledLedger> {
  const { state } = await retry(async () => (await jetstreamManager(nc)).streams.info(streams.events));
  const deadline = Date.now() + timeoutMs;
  let live = await queryLedger(nc).catch(() => undefined);
  while ((!live || live.lastSequence < BigInt(state.last_seq)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    live = await queryLedger(nc).catch(() => undefined);
  }
  if (!live) throw new Error("the ledger did not answer");
  const rebuilt = (await retry(() => rebuildLedger(nc))).toSnapshot();
  return { stream: state, live, rebuilt };
}

async function retry<T>(attempt: () => Promise<T>, tries = 60): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (i >= tries) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
