/**
 * The rollout commands (`chorus modules ...`) as functions: every one that puts a version into a role verifies
 * it first, here, with the full pipeline, and only then compare-and-sets the state; a refused version changes
 * nothing. Processes verify again when they load (ModuleWatcher).
 */
import type { KeyObject } from "node:crypto";
import type { ModuleManifest, ModuleState } from "../gen/chorus/v1/module_pb.ts";
import { cosignManifest, signManifest } from "./manifest-signature.ts";
import type { ModuleRegistry } from "./module-registry.ts";
import { ModuleRejectedError, RejectionReason } from "./module-rejected-error.ts";
import * as changes from "./module-state-changes.ts";
import type { ModuleVerifier } from "./module-verifier.ts";

export interface PublishOptions {
  module: string;
  version: string;
  abiVersion: number;
  privateKey: KeyObject;
  /** More keys' signatures at once (N-of-M); others can add theirs later with `cosign`. */
  cosignKeys?: KeyObject[];
  author: string;
  notes?: string;
}

/** One published version and the roles it holds now. */
export interface ModuleListing {
  manifest: ModuleManifest;
  roles: string[];
}

export class ModuleOperations {
  constructor(
    private readonly registry: ModuleRegistry,
    private readonly verifier: ModuleVerifier,
    /** Who acts, for the state history: "user@host" or a process name. */
    private readonly actor: string,
  ) {}

  /**
   * Signs, verifies and stores a version. Nothing is stored if any check fails. One valid signature is enough to
   * store it; taking a role needs the configured number of distinct signers (`cosign` adds the others').
   */
  async publish(bytes: Uint8Array, options: PublishOptions): Promise<ModuleManifest> {
    let manifest = signManifest(bytes, options, options.privateKey);
    for (const key of options.cosignKeys ?? []) manifest = cosignManifest(manifest, key);
    await this.verifier.verify(bytes, manifest, undefined, { quorum: false });
    await this.registry.publish(bytes, manifest);
    return manifest;
  }

  /**
   * Adds `privateKey`'s signature to a published version (N-of-M signing). The stored version must pass every
   * check but the quorum first, and the new signature must count (a trusted, unrevoked, unexpired key): a
   * signature that could never count is refused rather than stored.
   */
  async cosign(module: string, version: string, privateKey: KeyObject): Promise<ModuleManifest> {
    const { manifest, bytes } = await this.#fetch(module, version);
    await this.verifier.verify(bytes, manifest, { module, version }, { quorum: false });
    const signed = cosignManifest(manifest, privateKey);
    const problem = this.verifier.signatureProblem(signed, signed.cosignatures.at(-1)!.keyId);
    if (problem) {
      const reason = / untrusted$/.test(problem)
        ? RejectionReason.UntrustedKey
        : / revoked$/.test(problem)
          ? RejectionReason.RevokedKey
          : / expired$/.test(problem)
            ? RejectionReason.ExpiredKey
            : RejectionReason.BadSignature;
      throw new ModuleRejectedError(reason, module, version, `cosignature not stored: ${problem}`);
    }
    await this.registry.replaceManifest(signed);
    return signed;
  }

  /** Fetches a published version and runs every check on it. */
  async verify(module: string, version: string): Promise<ModuleManifest> {
    const { manifest, bytes } = await this.#fetch(module, version);
    await this.verifier.verify(bytes, manifest, { module, version });
    return manifest;
  }

  async #fetch(module: string, version: string): Promise<{ manifest: ModuleManifest; bytes: Uint8Array }> {
    const [manifest, bytes] = await Promise.all([
      this.registry.manifest(module, version),
      this.registry.bytes(module, version),
    ]);
    if (!manifest || !bytes) {
      throw new ModuleRejectedError(
        RejectionReason.NotFound,
        module,
        version,
        "not published (see chorus modules list)",
      );
    }
    return { manifest, bytes };
  }

  /** `allowDowngrade`: activate a version older than the newest ever active (recorded in the history). */
  async activate(module: string, version: string, reason = "", allowDowngrade = false): Promise<ModuleState> {
    await this.verify(module, version);
    return this.#write(module, (s) => changes.activate(s, version, this.#context(reason), allowDowngrade));
  }

  /** An empty version stops shadowing. */
  async shadow(module: string, version: string, reason = ""): Promise<ModuleState> {
    if (version !== "") await this.verify(module, version);
    return this.#write(module, (s) => changes.shadow(s, version, this.#context(reason)));
  }

  /** Percent 0 ends the canary. */
  async canary(module: string, version: string, percent: number, reason = ""): Promise<ModuleState> {
    if (percent > 0) await this.verify(module, version);
    return this.#write(module, (s) => changes.canary(s, version, percent, this.#context(reason)));
  }

  async rollback(module: string, reason = ""): Promise<ModuleState> {
    return this.#write(module, (s) => changes.rollback(s, this.#context(reason)));
  }

  async list(module?: string): Promise<ModuleListing[]> {
    const published = await this.registry.list(module);
    const states = new Map<string, ModuleState>();
    for (const name of new Set(published.map((p) => p.manifest.module))) {
      states.set(name, (await this.registry.state(name)).state);
    }
    return published.map(({ manifest }) => ({
      manifest,
      roles: rolesOf(states.get(manifest.module), manifest.version),
    }));
  }

  async state(module: string): Promise<ModuleState> {
    return (await this.registry.state(module)).state;
  }

  async #write(module: string, change: (state: ModuleState) => ModuleState): Promise<ModuleState> {
    const written = await this.registry.updateState(module, change);
    return written!.state;
  }

  #context(reason: string): changes.ChangeContext {
    return { actor: this.actor, reason };
  }
}

export function rolesOf(state: ModuleState | undefined, version: string): string[] {
  if (!state) return [];
  const roles: string[] = [];
  if (state.activeVersion === version) roles.push("active");
  if (state.canaryVersion === version) roles.push(`canary ${state.canaryPercent}%`);
  if (state.shadowVersion === version) roles.push("shadow");
  if (state.previousVersion === version) roles.push("previous");
  return roles;
}
