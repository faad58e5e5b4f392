import type { JetStreamClient, JetStreamManager, StreamConfig } from "@nats-io/jetstream";
import { type KV, Kvm, type KvOptions } from "@nats-io/kv";
import { type ObjectStore, type ObjectStoreOptions, Objm } from "@nats-io/obj";
import { type ConfigField, loadConfig, parsers } from "../config/config.ts";
import { retryTransient } from "./transient-retry.ts";

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

/** Creates the stream, or raises an existing one's replica count to `replicas`; its other settings stay. */
export function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
  replicas = configuredReplicas(),
): Promise<void> {
  return retryTransient(`stream ${config.name}`, () => ensureStreamOnce(jsm, config, replicas));
}

async function ensureStreamOnce(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
  replicas: number,
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

/**
 * Raises an existing stream (a bucket's `KV_<name>`, an object store's `OBJ_<name>`) to `replicas` copies. It never
 * lowers one: a process started without CHORUS_REPLICAS (a CLI, a test runner) against a cluster used to scale the
 * stores it opened down to one copy — the chaos run's runner did it to the election bucket, and a server kill then
 * left it without any replica. Lowering is the operator's act (`nats stream edit`).
 */
export async function matchReplicas(jsm: JetStreamManager, stream: string, replicas = configuredReplicas()) {
  const info = await jsm.streams.info(stream);
  if (info.config.num_replicas >= replicas) return;
  await explain(stream, replicas, () => jsm.streams.update(stream, { ...info.config, num_replicas: replicas }));
}

/** Opens (creating on first use) a KV bucket with the configured replicas. */
export async function openReplicatedBucket(
  js: JetStreamClient,
  name: string,
  options: Partial<KvOptions> = {},
  replicas = configuredReplicas(),
): Promise<KV> {
  return retryTransient(`bucket ${name}`, async () => {
    const kv = await explain(`KV_${name}`, replicas, () => new Kvm(js).create(name, { ...options, replicas }));
    await matchReplicas(await js.jetstreamManager(), `KV_${name}`, replicas);
    return kv;
  });
}

/** Opens (creating on first use) an object store with the configured replicas. */
export async function openReplicatedObjectStore(
  js: JetStreamClient,
  name: string,
  options: Partial<ObjectStoreOptions> = {},
  replicas = configuredReplicas(),
): Promise<ObjectStore> {
  return retryTransient(`object store ${name}`, async () => {
    const store = await explain(`OBJ_${name}`, replicas, () => new Objm(js).create(name, { ...options, replicas }));
    await matchReplicas(await js.jetstreamManager(), `OBJ_${name}`, replicas);
    return store;
  });
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
