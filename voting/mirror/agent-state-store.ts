import type { JetStreamClient } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { decodeMessage } from "../../lib/codecs/registry.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { type BadMessageReason, describeError, reportBadMessage } from "../../lib/nats/bad-messages.ts";
import { MissingStoreError, openReplicatedBucket, ReplicasError } from "../../lib/nats/jetstream-replicas.ts";
import { DEFAULT_MAX_PAYLOAD, encodePieces, pieceLimit } from "../../lib/nats/message-pieces.ts";
import { readMessage } from "../../lib/nats/read-message.ts";
import { buckets } from "../../lib/subjects.ts";
import type { AnyAgentModule } from "../contract/agent-module.ts";

/** Opens (creating on first use) the agent-state bucket. History 1: only the latest snapshot matters. */
export async function openAgentStateBucket(js: JetStreamClient, replicas?: number): Promise<KV> {
  const kvm = new Kvm(js);
  try {
    return await openReplicatedBucket(js, buckets.agentState, { history: 1 }, replicas);
  } catch (err) {
    if (err instanceof ReplicasError || err instanceof MissingStoreError) throw err;
    // Another process created it with other settings: use it as it is.
    return kvm.open(buckets.agentState);
  }
}

/** KV key of an agent's state under a key ("global" or a user shard); piece i > 0 of it under `<agent>.<key>.<i>`. */
export const agentStateKey = (agent: string, key: string, piece = 0) =>
  piece === 0 ? `${agent}.${key}` : `${agent}.${key}.${piece}`;

/**
 * Full snapshots of an agent's keys in KV, so that a restarted agent or gateway recovers. A snapshot larger than
 * the server's max payload is stored in pieces (`<agent>.<key>`, `<agent>.<key>.1`, ...: message-pieces.ts), each
 * a signal of its own that restores by merging, so no number of listeners makes a snapshot unstorable. Pieces are
 * written from the last to the first and leftovers of a longer earlier snapshot are purged.
 */
export class AgentStateStore {
  /** Pieces last written (or found) per `<agent>.<key>`, to purge the ones a shorter snapshot leaves. */
  private readonly pieces = new Map<string, number>();

  /** `consumer` names the reader in bad-message counts (`gateway`, `agent`); `maxPayload`: the server's. */
  constructor(
    private readonly kv: KV,
    private readonly log?: Logger,
    private readonly consumer = "state-store",
    private readonly maxPayload = DEFAULT_MAX_PAYLOAD,
  ) {}

  /** Returns the number of pieces written. */
  async save(module: AnyAgentModule, state: unknown, key: string): Promise<number> {
    let pieces: Uint8Array[];
    try {
      pieces = encodePieces(module.signalSchema, module.snapshot(state, key, "full"), pieceLimit(this.maxPayload));
    } catch (err) {
      throw new SnapshotEncodeError(module.name, key, err);
    }
    for (let i = pieces.length - 1; i >= 0; i--) await this.kv.put(agentStateKey(module.name, key, i), pieces[i]!);
    const name = agentStateKey(module.name, key);
    const before = this.pieces.get(name) ?? 1;
    for (let i = pieces.length; i < before; i++) await this.kv.purge(agentStateKey(module.name, key, i));
    this.pieces.set(name, pieces.length);
    return pieces.length;
  }

  /**
   * Restores every stored key of the agent (or only `keys`); returns the keys restored. A value that cannot be read
   * or holds out-of-range values is skipped and counted: the key starts fresh rather than the process not at all.
   */
  async load(module: AnyAgentModule, state: unknown, keys?: readonly string[]): Promise<string[]> {
    // One filter per call: servers before 2.10 take no list of filters.
    const filters = keys ? keys.flatMap((k) => [`${module.name}.${k}`, `${module.name}.${k}.*`]) : [`${module.name}.>`];
    const names = (await Promise.all(filters.map((f) => collect(this.kv.keys(f))))).flat();
    const found = new Set<string>();
    for (const name of names) {
      const [key = "", piece] = name.slice(module.name.length + 1).split(".");
      const base = agentStateKey(module.name, key);
      this.pieces.set(base, Math.max(this.pieces.get(base) ?? 1, piece === undefined ? 1 : Number(piece) + 1));
      const entry = await this.kv.get(name);
      if (entry?.operation !== "PUT") continue;
      const read = readMessage(module.signalSchema, entry.value, (b) => decodeMessage(module.signalSchema, b));
      let problem: { reason: BadMessageReason; detail: string } | undefined = read.ok
        ? undefined
        : { reason: read.reason, detail: read.detail };
      if (read.ok)
        try {
          module.restore(state, key, read.message);
          found.add(key);
        } catch (err) {
          problem = { reason: "out_of_range", detail: describeError(err) };
        }
      if (problem && this.log)
        reportBadMessage(this.log, {
          consumer: `${this.consumer}:${module.name}`,
          subject: `$KV.${buckets.agentState}.${name}`,
          seq: entry.revision,
          ...problem,
        });
    }
    return [...found];
  }
}

async function collect(keys: Promise<AsyncIterable<string>>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of await keys) out.push(key);
  return out;
}

/** The state itself cannot be written (a value out of its type's range): retrying cannot help. */
export class SnapshotEncodeError extends Error {
  override readonly name = "SnapshotEncodeError";
  constructor(agent: string, key: string, cause: unknown) {
    super(`${agent} state ${key} cannot be encoded: ${describeError(cause)}`, { cause });
  }
}
