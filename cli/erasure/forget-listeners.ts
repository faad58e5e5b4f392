/**
 * Erasure of listeners (`chorus users forget`), run as the operator identity. A listener is known on the bus by a
 * keyed pseudonym (lib/privacy) and in the decision log by a second one (Pseudonyms.decisionLogKey); the raw id never
 * leaves the operator's machine. In order:
 *
 * 0. The agent-state snapshots holding a listener are erased (the server overwrites their bytes), so that the
 *    rewrites below do not leave them on disk.
 * 1. Processes: a request on subjects.usersForget, answered by every agent instance (its own shards and the ones it
 *    mirrors; it rewrites its KV snapshots at once) and every gateway (its agent mirrors, its receipt cache).
 * 2. Agent state in KV: any key still holding a listener (an agent that is down did not answer) is restored, the
 *    listener dropped and the key written back here. The bucket keeps one revision per key, so the old value leaves
 *    the stream.
 * 3. Streams, message by message (deleted with `erase`: the server overwrites the bytes): the listener's receipts
 *    (a receipt batch shared with other listeners is deleted after the others' receipts are stored alone, so their
 *    events still find their price), decision-log records, quarantined events holding a pseudonym, and the ad
 *    events, once the ledger no longer needs them: only events at or below the sequence the ledger's snapshot
 *    covers are deleted (its totals keep them), and the command waits for the snapshot to pass the last one. Their
 *    events cannot be charged again: an event is checked against its receipt, which is gone.
 * 4. A final read of every stream for the pseudonyms: what remains is reported (and fails the command).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { DecisionRecordSchema } from "../../gen/chorus/v1/decision_log_pb.ts";
import {
  DecisionReceiptSchema,
  LedgerEntrySchema,
  LedgerSnapshotSchema,
  ReceiptBatchSchema,
} from "../../gen/chorus/v1/ledger_pb.ts";
import { ForgetListenersSchema, ListenersForgottenSchema } from "../../gen/chorus/v1/privacy_pb.ts";
import { SNAPSHOT_KEY } from "../../ledger/snapshot-store.ts";
import { isSubjectTaken, ONLY_IF_EMPTY } from "../../lib/nats/empty-subject.ts";
import { buckets, streams, subjects } from "../../lib/subjects.ts";
import { pseudonymize } from "../../telemetry/decision-record.ts";
import { AgentStateStore } from "../../voting/mirror/agent-state-store.ts";
import { agentLoaders, loadAgents } from "../../voting/registry/agent-loaders.ts";

export interface ForgetOptions {
  /** Bus pseudonyms of the listener (user, and the per-session ones of sessions without measurement consent). */
  pseudonyms: readonly string[];
  /** Key of the decision log's pseudonyms (Pseudonyms.decisionLogKey). */
  decisionLogKey: string;
  /** How long processes may take to answer (default 3 s). */
  answerMs?: number;
  /** How long to wait for the ledger's snapshot to cover the listener's events (default 30 s). */
  ledgerWaitMs?: number;
  progress?: (line: string) => void;
}

export interface ForgetReport {
  /** `process (agent): keys` of every process that answered. */
  answered: { process: string; agent: string; keys: string[] }[];
  /** `<agent>.<key>` rewritten here (no process had). */
  stateKeysRewritten: string[];
  /** Messages erased, by stream. */
  erased: Record<string, number>;
  /** Other listeners' receipts stored alone before their batch was erased. */
  receiptsRestored: number;
  /** Events left because the ledger's snapshot did not cover them in time (run the command again). */
  eventsPending: number;
  /** `<stream> #<seq>` still holding a pseudonym after all this. */
  remaining: string[];
}

export async function forgetListeners(nc: NatsConnection, options: ForgetOptions): Promise<ForgetReport> {
  const say = options.progress ?? (() => {});
  const bus = new Set(options.pseudonyms);
  const logged = new Set(options.pseudonyms.map((p) => pseudonymize(p, options.decisionLogKey)));
  const needles = [...bus, ...logged].map((p) => Buffer.from(p));
  const holds = (bytes: Uint8Array) => {
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return needles.some((n) => b.includes(n));
  };
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const report: ForgetReport = {
    answered: [],
    stateKeysRewritten: [],
    erased: {},
    receiptsRestored: 0,
    eventsPending: 0,
    remaining: [],
  };

  const erase = async (stream: string, seq: number) => {
    await jsm.streams.deleteMessage(stream, seq, true);
    report.erased[stream] = (report.erased[stream] ?? 0) + 1;
  };
  // 0. The stored agent snapshots holding a listener are erased first: once a process writes the new revision, the
  // bucket's one-revision limit would remove the old one without overwriting its bytes on disk.
  const stateStream = `KV_${buckets.agentState}`;
  await eachMessage(jsm, js, stateStream, async (_subject, seq, data) => {
    if (holds(data)) await erase(stateStream, seq);
  });

  // 1. Every process that keeps listener state.
  const request = toBinary(ForgetListenersSchema, create(ForgetListenersSchema, { pseudonyms: [...bus] }));
  const replies = await nc.requestMany(subjects.usersForget, request, {
    strategy: "timer",
    maxWait: options.answerMs ?? 3_000,
  });
  for await (const reply of replies) {
    try {
      const r = fromBinary(ListenersForgottenSchema, reply.data);
      report.answered.push({ process: r.process, agent: r.agent, keys: r.keys });
    } catch {
      // A reply that is not one (e.g. a no-responders status) counts for nothing.
    }
  }
  say(`${report.answered.length} processes dropped the listener from memory`);

  // 2. Agent state left in KV.
  const kv = await new Kvm(js).open(buckets.agentState);
  const store = new AgentStateStore(kv, undefined, "forget", nc.info?.max_payload);
  for (const module of await loadAgents(Object.keys(agentLoaders))) {
    if (!module.forget) continue;
    const state = module.createState();
    await store.load(module, state);
    for (const key of module.forget(state, bus) ?? []) {
      await store.save(module, state, key);
      report.stateKeysRewritten.push(`${module.name}.${key}`);
    }
  }

  // 2b. Older revisions of those snapshots were removed from the bucket as they were superseded, but their bytes
  // stay in the stream's block files until the server compacts them. Every current value is stored once more
  // (compare-and-set: a newer write by an agent wins) and everything below is purged, which deletes or rewrites
  // the old blocks.
  const { state: before } = await jsm.streams.info(stateStream);
  if (before.messages > 0) {
    let first = 0;
    for await (const key of await kv.keys()) {
      const entry = await kv.get(key);
      if (entry?.operation !== "PUT" || entry.revision > before.last_seq) continue;
      try {
        const revision = await kv.update(key, entry.value, entry.revision);
        if (first === 0 || revision < first) first = revision;
      } catch {
        // Written meanwhile by its agent: that newer revision is above the purge already.
      }
    }
    if (first > 0) await jsm.streams.purge(stateStream, { seq: Math.min(first, before.last_seq + 1) });
  }

  // 3. Streams.
  await eachMessage(jsm, js, streams.receipts, async (subject, seq, data) => {
    if (!holds(data)) return;
    if (subjects.isReceiptBatchSubject(subject)) {
      for (const receipt of fromBinary(ReceiptBatchSchema, data).receipts) {
        if (bus.has(receipt.userId)) continue;
        await js
          .publish(subjects.receipt(receipt.decisionId), toBinary(DecisionReceiptSchema, receipt), {
            expect: ONLY_IF_EMPTY,
          })
          .catch((err: unknown) => {
            if (!isSubjectTaken(err)) throw err;
          });
        report.receiptsRestored++;
      }
    } else if (!bus.has(fromBinary(DecisionReceiptSchema, data).userId)) return;
    await erase(streams.receipts, seq);
  });
  await eachMessage(jsm, js, streams.decisions, async (_subject, seq, data) => {
    if (!holds(data)) return;
    const request = fromBinary(DecisionRecordSchema, data).request;
    if (logged.has(request?.user?.userId ?? "") || logged.has(request?.context?.sessionId ?? ""))
      await erase(streams.decisions, seq);
  });
  await eachMessage(jsm, js, streams.quarantine, async (_subject, seq, data) => {
    if (holds(data)) await erase(streams.quarantine, seq);
  });
  const events: number[] = [];
  await eachMessage(jsm, js, streams.events, async (_subject, seq, data) => {
    if (holds(data) && bus.has(fromBinary(LedgerEntrySchema, data).userId)) events.push(seq);
  });
  if (events.length > 0) {
    const last = Math.max(...events);
    const covered = await ledgerCovers(js, last, options.ledgerWaitMs ?? 30_000);
    for (const seq of events) {
      if (seq <= covered) await erase(streams.events, seq);
      else report.eventsPending++;
    }
    if (report.eventsPending > 0)
      say(`${report.eventsPending} events wait for the ledger's snapshot (sequence ${covered} < ${last}): run again`);
  }

  // 4. What is left anywhere.
  for await (const info of jsm.streams.list()) {
    const stream = info.config.name;
    await eachMessage(jsm, js, stream, async (subject, seq, data) => {
      if (holds(data) || holds(Buffer.from(subject))) report.remaining.push(`${stream} #${seq}`);
    });
  }
  return report;
}

/** Every message stored in `stream` now (an ordered read up to its last sequence at the start). */
async function eachMessage(
  jsm: JetStreamManager,
  js: JetStreamClient,
  stream: string,
  visit: (subject: string, seq: number, data: Uint8Array) => Promise<void>,
): Promise<void> {
  let last: number;
  try {
    const { state } = await jsm.streams.info(stream);
    if (state.messages === 0) return;
    last = state.last_seq;
  } catch (err) {
    // A stream this deployment never created holds nothing to forget.
    if (err instanceof Error && /stream not found/i.test(err.message)) return;
    throw err;
  }
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  for (;;) {
    let seen = 0;
    let done = false;
    for await (const m of await consumer.fetch({ max_messages: 1_000, expires: 2_000 })) {
      seen++;
      if (m.seq <= last) await visit(m.subject, m.seq, m.data);
      if (m.seq >= last || m.info.pending === 0) done = true;
      if (done) break;
    }
    if (done || seen === 0) return;
  }
}

/** The events sequence the ledger's stored snapshot covers, waiting up to `waitMs` for it to reach `seq`. */
async function ledgerCovers(js: JetStreamClient, seq: number, waitMs: number): Promise<number> {
  const kv = await new Kvm(js).open(buckets.ledger);
  const until = Date.now() + waitMs;
  for (;;) {
    const head = await kv.get(SNAPSHOT_KEY);
    const covered = head?.operation === "PUT" ? Number(fromBinary(LedgerSnapshotSchema, head.value).lastSequence) : 0;
    if (covered >= seq || Date.now() >= until) return covered;
    await new Promise((r) => setTimeout(r, 250));
  }
}
