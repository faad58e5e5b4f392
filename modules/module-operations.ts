/**
 * The rollout commands (`chorus modules ...`) as functions: every one that puts a version into a role verifies
 * it first, here, with the full pipeline, and only then compare-and-sets the state; a refused version changes
 * nothing. Processes verify again when they load (ModuleWatcher).
 */
import type { KeyObject } from "node:crypto";
import type { ModuleManifest, ModuleState } from "../gen/chorus/v1/module_pb.ts";
import { signManifest } from "./manifest-signature.ts";
import type { ModuleRegistry } from "./module-registry.ts";
import { ModuleRejectedError, RejectionReason } from "./module-rejected-error.ts";
import * as changes from "./module-state-changes.ts";
import type { ModuleVerifier } from "./module-verifier.ts";

export interface PublishOptions {
  module: string;
  version: string;
  abiVersion: number;
  privateKey: KeyObject;
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

  /** Signs, verifies and stores a version. Nothing is stored if any check fails. */
  async publish(bytes: Uint8Array, options: PublishOptions): Promise<ModuleManifest> {
    const manifest = signManifest(bytes, options, options.privateKey);
    await this.verifier.verify(bytes, manifest);
    await this.registry.publish(bytes, manifest);
    return manifest;
  }

  /** Fetches a published version and runs every check on it. */
  async verify(module: string, version: string): Promise<ModuleManifest> {
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
    await this.verifier.verify(bytes, manifest, { module, version });
    return manifest;
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
