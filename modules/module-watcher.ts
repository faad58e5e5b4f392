/**
 * Follows one module's ModuleState in the KV bucket and keeps, for this process, the verified bytes of every
 * version the state names (active, previous, canary, shadow). Each version is fetched and verified here, with
 * this process's trusted keys, before anything may run it: when the state names a version that fails, the
 * process refuses it and keeps what it had (an active version stays active; a canary or shadow role stays
 * empty), and says so in the view and the log.
 *
 * States: idle -> starting (first read) -> watching -> stopped. Changes are applied one at a time, in KV
 * order; listeners see a view only after every version it names has been loaded or refused.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { KvWatchInclude } from "@nats-io/kv";
import type { ModuleManifest, ModuleState } from "../gen/chorus/v1/module_pb.ts";
import { ModuleStateSchema } from "../gen/chorus/v1/module_pb.ts";
import type { Logger } from "../lib/log/logger.ts";
import { retryTransient } from "../lib/nats/transient-retry.ts";
import type { KeyRevocations } from "./key-revocations.ts";
import { type ModuleRegistry, stateKey } from "./module-registry.ts";
import { ModuleRejectedError, RejectionReason } from "./module-rejected-error.ts";
import type { ModuleVerifier } from "./module-verifier.ts";

export interface ModuleWatcherOptions {
  /** The operator's revocation list: a version signed by a key on it is dropped here as soon as it is revoked. */
  readonly revocations?: KeyRevocations;
  /** Writes a version's rollback to the shared state (rollbackVersion), for versions dropped for their key. */
  readonly rollback?: (version: string, reason: string) => Promise<void>;
}

/** Refusals that must stop a version already running, not only keep it from starting. */
const KEY_REFUSALS: ReadonlySet<string> = new Set([
  RejectionReason.RevokedKey,
  RejectionReason.ExpiredKey,
  RejectionReason.InsufficientSignatures,
]);

/** Longest delay setTimeout takes; an expiry further away is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LoadedModule {
  readonly module: string;
  readonly version: string;
  readonly manifest: ModuleManifest;
  readonly bytes: Uint8Array;
}

/** What this process should run now. Roles are empty when unset or refused. */
export interface ModuleView {
  readonly state: ModuleState;
  readonly active: LoadedModule | undefined;
  readonly previous: LoadedModule | undefined;
  readonly canary: LoadedModule | undefined;
  readonly canaryPercent: number;
  readonly shadow: LoadedModule | undefined;
  /** Versions the state names that this process refused, and why. */
  readonly refused: ReadonlyMap<string, ModuleRejectedError>;
}

export type ModuleWatcherState = "idle" | "starting" | "watching" | "stopped";
export type ModuleViewListener = (view: ModuleView) => void | Promise<void>;

export class ModuleWatcher {
  state: ModuleWatcherState = "idle";
  #view: ModuleView | undefined;
  #appliedRevision = 0;
  #applying: Promise<void> = Promise.resolve();
  readonly #listeners = new Set<ModuleViewListener>();
  /** Verified (or refused) versions, so a version is fetched and checked once per process. */
  readonly #loaded = new Map<string, Promise<LoadedModule>>();
  #stopWatch: (() => void) | undefined;
  #stopRevocations: (() => void) | undefined;
  #current: { state: ModuleState; kvRevision: number } | undefined;
  /** Fires when the first key that signed a running version expires (the state is then applied again). */
  #expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: ModuleRegistry,
    private readonly verifier: ModuleVerifier,
    readonly module: string,
    private readonly logger: Logger,
    private readonly options: ModuleWatcherOptions = {},
  ) {
    if (options.revocations) verifier.useRevocations(options.revocations);
  }

  get view(): ModuleView | undefined {
    return this.#view;
  }

  /** Listeners are awaited in order on every change; the first call happens on the next change. */
  onChange(listener: ModuleViewListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads and loads the current state, then follows changes. Resolves with the first view. */
  async start(): Promise<ModuleView> {
    if (this.state !== "idle") throw new Error(`cannot start a module watcher in state ${this.state}`);
    this.state = "starting";
    // Watch first, read second: a change landing in between is then seen (and skipped if already applied).
    // Retried while JetStream is not ready (a fresh cluster answers its first reads with timeouts).
    const updates = await retryTransient(
      `watch module state ${this.module}`,
      () => this.registry.states.watch({ key: stateKey(this.module), include: KvWatchInclude.UpdatesOnly }),
      { logger: this.logger },
    );
    this.#stopWatch = () => updates.stop();
    // A revoked key: every version is checked again (each verification asks the list), and the current state is
    // applied again so that a running version signed by that key is dropped now, not at the next change.
    this.#stopRevocations = this.options.revocations?.onRevoke(() => this.recheck());
    const { state, kvRevision } = await retryTransient(
      `module state ${this.module}`,
      () => this.registry.state(this.module),
      { logger: this.logger },
    );
    await this.#enqueue(state, kvRevision);
    this.state = "watching";
    void (async () => {
      for await (const entry of updates) {
        if (entry.operation !== "PUT") continue;
        let next: ModuleState;
        try {
          next = fromBinary(ModuleStateSchema, entry.value);
        } catch (err) {
          this.logger.error({ err, revision: entry.revision }, "module state is not a ModuleState; ignored");
          continue;
        }
        void this.#enqueue(next, entry.revision);
      }
    })();
    return this.#view!;
  }

  /** Resolves once every change seen so far has been applied (for tests and orderly shutdown). */
  settled(): Promise<void> {
    return this.#applying;
  }

  /**
   * Verifies every version again (each verification asks the trusted keys, the revocation list and the clock) and
   * re-applies the current state: on a revocation, a key's expiry, a changed trusted-keys file.
   */
  recheck(): void {
    this.#loaded.clear();
    const current = this.#current;
    if (current) void this.#enqueue(current.state, current.kvRevision, true);
  }

  /**
   * A key that signed a version in a role expires while it runs: at that moment the state is verified again, so
   * the version is refused for its key and rolled back (as for a revocation), on every process, within the timer's
   * precision rather than at the next state change.
   */
  #armExpiry(view: ModuleView): void {
    clearTimeout(this.#expiryTimer);
    const keyIds = [view.active, view.canary, view.shadow]
      .filter((m): m is LoadedModule => m !== undefined)
      .flatMap((m) => [m.manifest.keyId, ...m.manifest.cosignatures.map((c) => c.keyId)]);
    const next = Math.min(...keyIds.map((id) => this.verifier.keyExpiry(id) ?? Number.POSITIVE_INFINITY));
    if (!Number.isFinite(next) || this.state === "stopped") return;
    const delay = Math.min(Math.max(0, next - Date.now()) + 1, MAX_TIMER_MS);
    this.#expiryTimer = setTimeout(() => this.recheck(), delay);
    this.#expiryTimer.unref();
  }

  stop(): void {
    this.state = "stopped";
    clearTimeout(this.#expiryTimer);
    this.#stopWatch?.();
    this.#stopRevocations?.();
  }

  #enqueue(state: ModuleState, kvRevision: number, again = false): Promise<void> {
    this.#applying = this.#applying.then(() => this.#apply(state, kvRevision, again));
    return this.#applying;
  }

  async #apply(state: ModuleState, kvRevision: number, again = false): Promise<void> {
    if (this.state === "stopped") return;
    if (!again && kvRevision !== 0 && kvRevision <= this.#appliedRevision) return;
    if (again && kvRevision < this.#appliedRevision) return; // a newer state was applied meanwhile
    this.#appliedRevision = kvRevision;
    this.#current = { state, kvRevision };
    const refused = new Map<string, ModuleRejectedError>();
    const load = async (version: string): Promise<LoadedModule | undefined> => {
      if (version === "") return undefined;
      try {
        return await this.#load(version);
      } catch (err) {
        const rejection =
          err instanceof ModuleRejectedError
            ? err
            : new ModuleRejectedError(RejectionReason.NotFound, this.module, version, String(err), { cause: err });
        refused.set(version, rejection);
        this.logger.error(
          { module: this.module, version, reason: rejection.reason, err: rejection.message },
          "module refused",
        );
        return undefined;
      }
    };
    const [active, previous, canary, shadow] = await Promise.all(
      [state.activeVersion, state.previousVersion, state.canaryVersion, state.shadowVersion].map(load),
    );
    // Refusing the named active version keeps the one this process runs (if any): never fall back to nothing;
    // unless the refusal is its key's (revoked, expired): then the shipped build runs until the state moves on.
    const activeRefusal = refused.get(state.activeVersion)?.reason;
    const keepable = activeRefusal === undefined || !KEY_REFUSALS.has(activeRefusal);
    const kept = this.#view?.active;
    const keep =
      state.activeVersion !== "" && active === undefined && keepable && !(kept && this.#keyRefused(kept))
        ? kept
        : undefined;
    for (const [version, rejection] of refused) {
      const holdsRole = [state.activeVersion, state.canaryVersion, state.shadowVersion].includes(version);
      if (holdsRole && KEY_REFUSALS.has(rejection.reason))
        void this.options
          .rollback?.(version, `key: ${rejection.message}`)
          .catch((err: unknown) =>
            this.logger.error({ err, version }, "rollback of a version refused for its key not written"),
          );
    }
    this.#view = {
      state,
      active: active ?? keep,
      previous,
      canary: canary && state.canaryPercent > 0 ? canary : undefined,
      canaryPercent: canary ? state.canaryPercent : 0,
      shadow,
      refused,
    };
    this.#armExpiry(this.#view);
    this.logger.info(
      {
        module: this.module,
        revision: Number(state.revision),
        active: this.#view.active?.version,
        canary: this.#view.canary?.version,
        canaryPercent: this.#view.canaryPercent,
        shadow: shadow?.version,
      },
      "module state applied",
    );
    for (const listener of this.#listeners) {
      try {
        await listener(this.#view);
      } catch (err) {
        this.logger.error({ err, module: this.module }, "module view listener failed");
      }
    }
  }

  /** True when the list revoked the key `loaded` was signed with. */
  #keyRefused(loaded: LoadedModule): boolean {
    return this.options.revocations?.get(loaded.manifest.keyId) !== undefined;
  }

  #load(version: string): Promise<LoadedModule> {
    let loading = this.#loaded.get(version);
    if (!loading) {
      loading = this.#fetchAndVerify(version);
      this.#loaded.set(version, loading);
      // A failure may be transient (NATS away) or fixed by new trusted keys after a restart: retry next time.
      loading.catch(() => this.#loaded.delete(version));
    }
    return loading;
  }

  async #fetchAndVerify(version: string): Promise<LoadedModule> {
    const [manifest, bytes] = await Promise.all([
      this.registry.manifest(this.module, version),
      this.registry.bytes(this.module, version),
    ]);
    if (!manifest || !bytes) {
      throw new ModuleRejectedError(RejectionReason.NotFound, this.module, version, "not in the module object store");
    }
    await this.verifier.verify(bytes, manifest, { module: this.module, version });
    return { module: this.module, version, manifest, bytes };
  }
}
