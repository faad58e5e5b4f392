/**
 * Where module versions live. Bytes go into a JetStream object store, one object per version
 * (`<module>/<version>.wasm`) that carries its signed manifest in the object's metadata, so one atomic put
 * publishes both and listing needs no downloads. Which version is active, in shadow or in canary is a
 * ModuleState per module in a KV bucket (`state.<module>`), written only by compare-and-set.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import semver from "semver";
import {
  type ModuleManifest,
  ModuleManifestSchema,
  type ModuleReport,
  ModuleReportSchema,
  type ModuleState,
  ModuleStateSchema,
} from "../gen/chorus/v1/module_pb.ts";
import { openReplicatedBucket, openReplicatedObjectStore } from "../lib/nats/jetstream-replicas.ts";
import { buckets } from "../lib/subjects.ts";
import { canonicalManifestBytes } from "./manifest-signature.ts";
import { ModuleRejectedError, RejectionReason } from "./module-rejected-error.ts";

export class ModuleConflictError extends Error {
  override readonly name = "ModuleConflictError";
}

/** A ModuleState and the KV revision it was read at (0 = never written). */
export interface VersionedState {
  state: ModuleState;
  kvRevision: number;
}

export interface PublishedModule {
  manifest: ModuleManifest;
  /** When the object was stored. */
  storedAt: Date;
}

const MANIFEST_KEY = "chorus-manifest";

/** Largest module the registry hands out (the shipped kernel is ~20 KB). */
export const MAX_MODULE_BYTES = 16 * 1024 * 1024;

export function objectName(module: string, version: string): string {
  return `${module}/${version}.wasm`;
}

export function stateKey(module: string): string {
  return `state.${module}`;
}

/** KV keys allow [-/_=.a-zA-Z0-9]; process names may hold anything else (user@host). */
export function reportKey(module: string, process: string): string {
  return `report.${module}.${process.replace(/[^-/_=a-zA-Z0-9]/g, "_")}`;
}

export class ModuleRegistry {
  private constructor(
    readonly objects: ObjectStore,
    readonly states: KV,
  ) {}

  /** Opens both buckets, creating them if missing (idempotent, so every process may call it). */
  static async open(js: JetStreamClient, replicas?: number): Promise<ModuleRegistry> {
    const objects = await openReplicatedObjectStore(
      js,
      buckets.moduleObjects,
      { description: "Chorus WASM modules" },
      replicas,
    );
    const states = await openReplicatedBucket(js, buckets.moduleState, { history: 10 }, replicas);
    return new ModuleRegistry(objects, states);
  }

  /** Stores a version's bytes and manifest. A published version is immutable: a second publish is refused. */
  async publish(bytes: Uint8Array, manifest: ModuleManifest): Promise<void> {
    const name = objectName(manifest.module, manifest.version);
    const metadata = { [MANIFEST_KEY]: Buffer.from(toBinary(ModuleManifestSchema, manifest)).toString("base64") };
    try {
      // previousRevision 0: the put fails if the object's meta already exists.
      await this.objects.putBlob({ name, description: manifest.notes.slice(0, 200), metadata }, bytes, {
        previousRevision: 0,
      });
    } catch (err) {
      if (isWrongLastSequence(err)) {
        throw new ModuleConflictError(
          `${manifest.module} ${manifest.version} is already published; versions are immutable`,
        );
      }
      throw err;
    }
  }

  /**
   * Stores a published version's manifest with more cosignatures. Everything signed stays as it was (versions are
   * immutable); only signatures are added. Two cosigners at once may lose one's: they sign again.
   */
  async replaceManifest(manifest: ModuleManifest): Promise<void> {
    const name = objectName(manifest.module, manifest.version);
    const stored = await this.manifest(manifest.module, manifest.version);
    if (!stored) throw new Error(`${manifest.module} ${manifest.version} is not published`);
    const same = (m: ModuleManifest) => Buffer.from(canonicalManifestBytes(m)).toString("base64");
    if (same(stored) !== same(manifest) || !equalBytes(stored.signature, manifest.signature))
      throw new ModuleConflictError(`${manifest.module} ${manifest.version}: only cosignatures may change`);
    const metadata = { [MANIFEST_KEY]: Buffer.from(toBinary(ModuleManifestSchema, manifest)).toString("base64") };
    await this.objects.update(name, { metadata });
  }

  async manifest(module: string, version: string): Promise<ModuleManifest | undefined> {
    const info = await this.objects.info(objectName(module, version));
    return info && !info.deleted ? decodeManifest(info.metadata) : undefined;
  }

  /**
   * A version's bytes, fetched only when the object is at most `maxBytes` (checked on the stored size before the
   * fetch, and on what arrived after it): nothing larger is read into memory, let alone checked or run.
   */
  async bytes(module: string, version: string, maxBytes = MAX_MODULE_BYTES): Promise<Uint8Array | undefined> {
    const name = objectName(module, version);
    const info = await this.objects.info(name);
    if (!info || info.deleted) return undefined;
    const tooLarge = (size: number) =>
      new ModuleRejectedError(RejectionReason.TooLarge, module, version, `${size} bytes; the cap is ${maxBytes}`);
    if (info.size > maxBytes) throw tooLarge(info.size);
    const bytes = await this.objects.getBlob(name);
    if (bytes && bytes.length > maxBytes) throw tooLarge(bytes.length);
    return bytes ?? undefined;
  }

  /** Published versions, oldest semantic version first; all modules unless one is named. */
  async list(module?: string): Promise<PublishedModule[]> {
    const out: PublishedModule[] = [];
    for (const info of await this.objects.list()) {
      const manifest = decodeManifest(info.metadata);
      if (!manifest || !semver.valid(manifest.version) || (module !== undefined && manifest.module !== module))
        continue;
      out.push({ manifest, storedAt: new Date(info.mtime) });
    }
    return out.sort(
      (a, b) =>
        a.manifest.module.localeCompare(b.manifest.module) || semver.compare(a.manifest.version, b.manifest.version),
    );
  }

  async state(module: string): Promise<VersionedState> {
    const entry = await this.states.get(stateKey(module));
    if (entry?.operation !== "PUT") return { state: create(ModuleStateSchema, { module }), kvRevision: 0 };
    return { state: fromBinary(ModuleStateSchema, entry.value), kvRevision: entry.revision };
  }

  /**
   * Reads the state, applies `change` and writes the result only if nobody wrote in between; retries on a lost
   * race. `change` returns undefined to write nothing (e.g. an automatic rollback that someone else already did).
   */
  async updateState(
    module: string,
    change: (state: ModuleState) => ModuleState | undefined,
    attempts = 5,
  ): Promise<VersionedState | undefined> {
    for (let attempt = 1; ; attempt++) {
      const { state, kvRevision } = await this.state(module);
      const next = change(state);
      if (next === undefined) return undefined;
      const value = toBinary(ModuleStateSchema, next);
      try {
        const revision =
          kvRevision === 0
            ? await this.states.create(stateKey(module), value)
            : await this.states.update(stateKey(module), value, kvRevision);
        return { state: next, kvRevision: revision };
      } catch (err) {
        if (!isWrongLastSequence(err) || attempt >= attempts) throw err;
      }
    }
  }

  /** Stores this process's latest view of the rollout (overwrites its previous one). */
  async putReport(report: ModuleReport): Promise<void> {
    await this.states.put(reportKey(report.module, report.process), toBinary(ModuleReportSchema, report));
  }

  /** The latest report of every process that wrote one, by process name. */
  async reports(module: string): Promise<ModuleReport[]> {
    const out: ModuleReport[] = [];
    for await (const key of await this.states.keys(`report.${module}.>`)) {
      const entry = await this.states.get(key);
      if (entry?.operation === "PUT") out.push(fromBinary(ModuleReportSchema, entry.value));
    }
    return out.sort((a, b) => a.process.localeCompare(b.process));
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function decodeManifest(metadata: Record<string, string> | undefined): ModuleManifest | undefined {
  const encoded = metadata?.[MANIFEST_KEY];
  if (encoded === undefined) return undefined;
  try {
    return fromBinary(ModuleManifestSchema, Buffer.from(encoded, "base64"));
  } catch {
    return undefined; // Not ours or damaged: verification would refuse it anyway, listing skips it.
  }
}

function isWrongLastSequence(err: unknown): boolean {
  // JetStream answers a failed compare-and-set with API error 10071 "wrong last sequence"; KV create on an
  // existing key with 10058 ("key exists"), which the client reports the same way.
  const e = err as { api_error?: { err_code?: number }; message?: string; cause?: unknown };
  return (
    e?.api_error?.err_code === 10071 ||
    /wrong last sequence|key exists/i.test(e?.message ?? "") ||
    (e?.cause !== undefined && isWrongLastSequence(e.cause))
  );
}
