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

/**
 * A store is missing and this identity may not create it: only the operator creates and changes streams, buckets
 * and object stores (lib/nats/permissions.ts; npm start's launcher does it, `chorus bus setup` on a production
 * server).
 */
export class MissingStoreError extends Error {
  override readonly name = "MissingStoreError";
  constructor(stream: string, cause: string) {
    super(
      `${stream} does not exist and this NATS identity may not create it (${cause}): run \`chorus bus setup\` ` +
        "as the operator first (npm start does it for its private server)",
    );
  }
}

const isPermissionError = (err: unknown) => /permission/i.test((err as Error)?.message ?? "");

/** Runs the creation of a missing store; a permissions refusal becomes a MissingStoreError naming what to do. */
async function createMissing<T>(stream: string, replicas: number, run: () => Promise<T>): Promise<T> {
  try {
    return await explain(stream, replicas, run);
  } catch (err) {
    if (isPermissionError(err)) throw new MissingStoreError(stream, (err as Error).message);
    throw err;
  }
}

/** The stream's info, or undefined when it does not exist. */
async function infoOrMissing(jsm: JetStreamManager, stream: string) {
  return jsm.streams.info(stream).catch((err: Error) => {
    if (/stream not found/i.test(err.message)) return undefined;
    throw err;
  });
}

/**
 * Creates the stream if missing, or raises an existing one's replica count to `replicas`; its other settings stay.
 * An existing stream is only read (processes may not change streams; the operator's setup does).
 */
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
  const existing = await infoOrMissing(jsm, config.name);
  if (!existing) {
    await createMissing(config.name, replicas, () => jsm.streams.add({ ...config, num_replicas: replicas }));
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
  try {
    await explain(stream, replicas, () => jsm.streams.update(stream, { ...info.config, num_replicas: replicas }));
  } catch (err) {
    if (!isPermissionError(err)) throw err;
    throw new ReplicasError(
      `CHORUS_REPLICAS=${replicas}: ${stream} has ${info.config.num_replicas} and this NATS identity may not change ` +
        `it: run \`chorus bus setup\` as the operator with CHORUS_REPLICAS=${replicas}`,
    );
  }
}

/**
 * Opens a KV bucket (creating it on first use where this identity may: the operator's setup, an open test server)
 * with the configured replicas. An existing bucket is bound without asking to create it: a process may not.
 */
export async function openReplicatedBucket(
  js: JetStreamClient,
  name: string,
  options: Partial<KvOptions> = {},
  replicas = configuredReplicas(),
): Promise<KV> {
  return retryTransient(`bucket ${name}`, async () => {
    const jsm = await js.jetstreamManager();
    const existing = await infoOrMissing(jsm, `KV_${name}`);
    const kv = existing
      ? await new Kvm(js).open(name, { allow_direct: existing.config.allow_direct === true })
      : await createMissing(`KV_${name}`, replicas, () => new Kvm(js).create(name, { ...options, replicas }));
    await matchReplicas(await js.jetstreamManager(), `KV_${name}`, replicas);
    return kv;
  });
}

/** Opens an object store (creating it on first use where this identity may) with the configured replicas. */
export async function openReplicatedObjectStore(
  js: JetStreamClient,
  name: string,
  options: Partial<ObjectStoreOptions> = {},
  replicas = configuredReplicas(),
): Promise<ObjectStore> {
  return retryTransient(`object store ${name}`, async () => {
    const existing = await infoOrMissing(await js.jetstreamManager(), `OBJ_${name}`);
    const store = existing
      ? await new Objm(js).open(name)
      : await createMissing(`OBJ_${name}`, replicas, () => new Objm(js).create(name, { ...options, replicas }));
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
