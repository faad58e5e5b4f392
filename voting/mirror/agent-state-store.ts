import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { JetStreamClient } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { openReplicatedBucket, ReplicasError } from "../../lib/nats/jetstream-replicas.ts";
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
  constructor(private readonly kv: KV) {}

  async save(module: AnyAgentModule, state: unknown, key: string): Promise<void> {
    const signal = module.snapshot(state, key, "full");
    await this.kv.put(agentStateKey(module.name, key), toBinary(module.signalSchema, signal));
  }

  /** Restores every stored key of the agent (or only `keys`); returns the keys found. */
  async load(module: AnyAgentModule, state: unknown, keys?: readonly string[]): Promise<string[]> {
    const names = keys
      ? keys.map((k) => agentStateKey(module.name, k))
      : await collect(await this.kv.keys(`${module.name}.>`));
    const found: string[] = [];
    for (const name of names) {
      const entry = await this.kv.get(name);
      if (entry?.operation !== "PUT") continue;
      const key = name.slice(module.name.length + 1);
      module.restore(state, key, fromBinary(module.signalSchema, entry.value));
      found.push(key);
    }
    return found;
  }
}

async function collect(keys: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of keys) out.push(key);
  return out;
}
