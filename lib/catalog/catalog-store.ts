import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import {
  type Advertiser,
  AdvertiserSchema,
  type Campaign,
  CampaignSchema,
  type Creative,
  CreativeSchema,
  EntityStatus,
} from "../../gen/chorus/v1/campaign_pb.ts";
import { openReplicatedBucket } from "../nats/jetstream-replicas.ts";
import { buckets } from "../subjects.ts";
import { catalogKey, type EntityKind } from "./catalog-keys.ts";

const schemas = { advertiser: AdvertiserSchema, campaign: CampaignSchema, creative: CreativeSchema } as const;
type Entity = { advertiser: Advertiser; campaign: Campaign; creative: Creative };

/** Opens (or creates) the catalog bucket. History 5 keeps recent revisions for audits. */
export async function openCatalogBucket(js: JetStreamClient, replicas?: number): Promise<KV> {
  return openReplicatedBucket(js, buckets.catalog, { history: 5 }, replicas);
}

/**
 * Advertisers, campaigns and creatives in JetStream KV, one protobuf value per key. Writes use KV revisions for
 * optimistic concurrency: create fails if the key exists, update fails unless the stored revision is the one the
 * caller read. The stored revision is returned in the entity's `revision` field.
 */
export class CatalogStore {
  constructor(private readonly kv: KV) {}

  async create<K extends EntityKind>(kind: K, entity: Entity[K]): Promise<Entity[K]> {
    const stored = { ...entity, revision: 0n, status: entity.status || EntityStatus.ACTIVE } as Entity[K];
    try {
      const revision = await this.kv.create(catalogKey(kind, entity.id), this.encode(kind, stored));
      return { ...stored, revision: BigInt(revision) };
    } catch (err) {
      if (isWrongLastSequence(err)) throw new ConnectError(`${kind} "${entity.id}" already exists`, Code.AlreadyExists);
      throw err;
    }
  }

  async get<K extends EntityKind>(kind: K, id: string): Promise<Entity[K]> {
    const found = await this.find(kind, id);
    if (!found) throw new ConnectError(`${kind} "${id}" not found`, Code.NotFound);
    return found;
  }

  async find<K extends EntityKind>(kind: K, id: string): Promise<Entity[K] | undefined> {
    const entry = await this.kv.get(catalogKey(kind, id));
    if (entry?.operation !== "PUT") return undefined;
    return { ...this.decode(kind, entry.value), revision: BigInt(entry.revision) };
  }

  async list<K extends EntityKind>(kind: K): Promise<Entity[K][]> {
    const out: Entity[K][] = [];
    const keys = await this.kv.keys(`${kind}.>`);
    for await (const key of keys) {
      const entry = await this.kv.get(key);
      if (entry?.operation === "PUT") out.push({ ...this.decode(kind, entry.value), revision: BigInt(entry.revision) });
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Replaces the entity if its stored revision is `expectedRevision`; ABORTED otherwise, and nothing is written. */
  async update<K extends EntityKind>(kind: K, entity: Entity[K], expectedRevision: bigint): Promise<Entity[K]> {
    await this.get(kind, entity.id); // NOT_FOUND before ABORTED: the more useful answer.
    const stored = { ...entity, revision: 0n } as Entity[K];
    try {
      const revision = await this.kv.update(
        catalogKey(kind, entity.id),
        this.encode(kind, stored),
        Number(expectedRevision),
      );
      return { ...stored, revision: BigInt(revision) };
    } catch (err) {
      if (isWrongLastSequence(err))
        throw new ConnectError(
          `${kind} "${entity.id}" was changed by someone else (expected revision ${expectedRevision}); read it again`,
          Code.Aborted,
        );
      throw err;
    }
  }

  async archive<K extends EntityKind>(kind: K, id: string, expectedRevision: bigint): Promise<Entity[K]> {
    const current = await this.get(kind, id);
    const revision = expectedRevision > 0n ? expectedRevision : current.revision;
    return this.update(kind, { ...current, status: EntityStatus.ARCHIVED }, revision);
  }

  private encode<K extends EntityKind>(kind: K, entity: Entity[K]): Uint8Array {
    return toBinary(schemas[kind] as DescMessage, entity as MessageShape<DescMessage>);
  }

  private decode<K extends EntityKind>(kind: K, bytes: Uint8Array): Entity[K] {
    return fromBinary(schemas[kind] as DescMessage, bytes) as unknown as Entity[K];
  }
}

function isWrongLastSequence(err: unknown): boolean {
  // JetStream answers a failed compare-and-set with API error 10071 "wrong last sequence".
  const e = err as { api_error?: { err_code?: number }; message?: string; cause?: unknown };
  return (
    e?.api_error?.err_code === 10071 ||
    /wrong last sequence/i.test(e?.message ?? "") ||
    (e?.cause !== undefined && isWrongLastSequence(e.cause))
  );
}
