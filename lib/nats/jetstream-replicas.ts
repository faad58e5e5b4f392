import type { JetStreamClient, JetStreamManager, StreamConfig } from "@nats-io/jetstream";
import { type KV, Kvm, type KvOptions } from "@nats-io/kv";
import { type ObjectStore, type ObjectStoreOptions, Objm } from "@nats-io/obj";
import { type ConfigField, loadConfig, parsers } from "../config/config.ts";

/**
 * How many copies JetStream keeps of every Chorus stream, KV bucket and object store: CHORUS_REPLICAS, 1 on one
 * server, 3 (or 5) on a cluster. Every opener below creates with it and brings an existing store to it, so a mesh
 * moved from one server to a cluster gets replicated state by restarting with the new value.
 */
export const replicasConfig = {
  replicas: {
    env: "CHORUS_REPLICAS",
    default: 1,
    parse: parsers.int(1, 5),
    help: "JetStream replicas of every stream, bucket and object store (1 on one server, 3 or 5 on a cluster)",
  },
} satisfies Record<string, ConfigField<unknown>>;

/** CHORUS_REPLICAS from the environment (ConfigError naming the variable when it is not 1-5). */
export function configuredReplicas(env: NodeJS.ProcessEnv = process.env): number {
  return loadConfig(replicasConfig, env).replicas;
}

/** The replica count cannot be served here: the message says what to change. */
export class ReplicasError extends Error {
  override readonly name = "ReplicasError";
}

/** Creates the stream, or brings an existing one's replica count to `replicas`; its other settings stay. */
export async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
  replicas = configuredReplicas(),
): Promise<void> {
  const existing = await jsm.streams.info(config.name).catch((err: Error) => {
    if (/stream not found/i.test(err.message)) return undefined;
    throw err;
  });
  if (!existing) {
    await explain(config.name, replicas, () => jsm.streams.add({ ...config, num_replicas: replicas }));
    return;
  }
  await matchReplicas(jsm, config.name, replicas);
}

/** Brings an existing stream (a bucket's `KV_<name>`, an object store's `OBJ_<name>`) to `replicas` copies. */
export async function matchReplicas(jsm: JetStreamManager, stream: string, replicas = configuredReplicas()) {
  const info = await jsm.streams.info(stream);
  if (info.config.num_replicas === replicas) return;
  await explain(stream, replicas, () => jsm.streams.update(stream, { ...info.config, num_replicas: replicas }));
}

/** Opens (creating on first use) a KV bucket with the configured replicas. */
export async function openReplicatedBucket(
  js: JetStreamClient,
  name: string,
  options: Partial<KvOptions> = {},
  replicas = configuredReplicas(),
): Promise<KV> {
  const kv = await explain(`KV_${name}`, replicas, () => new Kvm(js).create(name, { ...options, replicas }));
  await matchReplicas(await js.jetstreamManager(), `KV_${name}`, replicas);
  return kv;
}

/** Opens (creating on first use) an object store with the configured replicas. */
export async function openReplicatedObjectStore(
  js: JetStreamClient,
  name: string,
  options: Partial<ObjectStoreOptions> = {},
  replicas = configuredReplicas(),
): Promise<ObjectStore> {
  const store = await explain(`OBJ_${name}`, replicas, () => new Objm(js).create(name, { ...options, replicas }));
  await matchReplicas(await js.jetstreamManager(), `OBJ_${name}`, replicas);
  return store;
}

/** JetStream's refusals of a replica count, turned into what the operator has to change. */
async function explain<T>(stream: string, replicas: number, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const message = (err as Error).message;
    if (/replicas > 1 not supported|insufficient resources|no suitable peers|replicas.*(exceed|greater)/i.test(message))
      throw new ReplicasError(
        `CHORUS_REPLICAS=${replicas}: JetStream cannot keep ${replicas} copies of ${stream} (${message}). ` +
          "Run a NATS cluster of at least that many servers with JetStream, or set CHORUS_REPLICAS=1 on one server.",
      );
    throw err;
  }
}
