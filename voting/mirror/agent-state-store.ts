import { toBinary } from "@bufbuild/protobuf";
import type { JetStreamClient } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { Logger } from "../../lib/log/logger.ts";
import { type BadMessageReason, describeError, reportBadMessage } from "../../lib/nats/bad-messages.ts";
import { openReplicatedBucket, ReplicasError } from "../../lib/nats/jetstream-replicas.ts";
import { readMessage } from "../../lib/nats/read-message.ts";
import { buckets } from "../../lib/subjects.ts";
import type { AnyAgentModule } from "../contract/agent-module.ts";

/** Opens (creating on first use) the agent-state bucket. History 1: only the latest snapshot matters. */
export async function openAgentStateBucket(js: JetStreamClient): Promise<KV> {
  const kvm = new Kvm(js);
  try {
    return await openReplicatedBucket(js, buckets.agentState, { history: 1 });
  } catch (err) {
    if (err instanceof ReplicasError) throw err;
    // Another process created it with other settings: use it as it is.
    return kvm.open(buckets.agentState);
  }
}

/** KV key of an agent's state under a key ("global" or a user shard). */
export const agentStateKey = (agent: string, key: string) => `${agent}.${key}`;

/** Full snapshots of an agent's keys in KV (`<agent>.<key>`), so that a restarted agent or gateway recovers. */
export class AgentStateStore {
  /** `consumer` names the reader in bad-message counts (`gateway`, `agent`). */
  constructor(
    private readonly kv: KV,
    private readonly log?: Logger,
    private readonly consumer = "state-store",
  ) {}

  async save(module: AnyAgentModule, state: unknown, key: string): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = toBinary(module.signalSchema, module.snapshot(state, key, "full"));
    } catch (err) {
      throw new SnapshotEncodeError(module.name, key, err);
    }
    await this.kv.put(agentStateKey(module.name, key), bytes);
  }

  /**
   * Restores every stored key of the agent (or only `keys`); returns the keys restored. A value that cannot be read
   * or holds out-of-range values is skipped and counted: the key starts fresh rather than the process not at all.
   */
  async load(module: AnyAgentModule, state: unknown, keys?: readonly string[]): Promise<string[]> {
    const names = keys
      ? keys.map((k) => agentStateKey(module.name, k))
      : await collect(await this.kv.keys(`${module.name}.>`));
    const found: string[] = [];
    for (const name of names) {
      const entry = await this.kv.get(name);
      if (entry?.operation !== "PUT") continue;
      const key = name.slice(module.name.length + 1);
      const read = readMessage(module.signalSchema, entry.value);
      let problem: { reason: BadMessageReason; detail: string } | undefined = read.ok
        ? undefined
        : { reason: read.reason, detail: read.detail };
      if (read.ok)
        try {
          module.restore(state, key, read.message);
          found.push(key);
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
    return found;
  }
}

async function collect(keys: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of keys) out.push(key);
  return out;
}

/** The state itself cannot be written (a value out of its type's range): retrying cannot help. */
export class SnapshotEncodeError extends Error {
  override readonly name = "SnapshotEncodeError";
  constructor(agent: string, key: string, cause: unknown) {
    super(`${agent} state ${key} cannot be encoded: ${describeError(cause)}`, { cause });
  }
}
