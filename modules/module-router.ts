/**
 * The gateway's side of hot-swapping the kernel: which module decides each decision, and watching the new
 * ones. It owns KernelPools by role:
 *
 * - main: the active version. A new active version goes in with `setModule`, so every worker swaps at a
 *   decision boundary and nothing is dropped. When main runs inline (on the gateway thread) it runs only the
 *   shipped build: a published active version gets a worker pool with its time limit instead.
 * - fallback: the previous version, for `probationMs` after an activation; after it (or with no previous
 *   version) the TypeScript reference kernel. A decision the active version fails (trap, timeout, lost worker,
 *   an output that breaks the contract) is decided again there: the client never sees the failure, and the
 *   result says it is degraded.
 * - canary: serves `canaryPercent` of decisions, chosen by a hash of the decision id (the same decision always
 *   lands on the same side, in every gateway). A failed or late canary call is decided again by main.
 * - shadow: runs beside main on live requests, off the response path and bounded; results are only compared.
 *
 * Every result of every role is checked against its request (wasm-core kernel-output-checks.ts) before it is
 * used. Each version's calls feed the RollbackGuard (probation, hang and share rules); a condemned version is
 * dropped at once and `rollback` writes the state back (ModuleState history names the rule).
 */
import { createHash, randomUUID } from "node:crypto";
import type { Logger } from "../lib/log/logger.ts";
import {
  checkKernelOutput,
  decideReference,
  KernelClosedError,
  type KernelInventory,
  KernelInventoryMismatchError,
  KernelPool,
  type KernelPoolOptions,
  type KernelRequest,
  type KernelResult,
  ResidentInventories,
} from "../wasm-core/src/mod.ts";
import { FailureWindow } from "./failure-window.ts";
import type { ModuleConfig } from "./module-config.ts";
import type { ModuleView } from "./module-watcher.ts";
import { type GuardConfig, RollbackGuard } from "./rollback-guard.ts";
import { ShadowComparison, type ShadowReport } from "./shadow-comparison.ts";
import type { VersionHealth } from "./version-health.ts";

export type ServedBy = "active" | "canary" | "fallback";

export interface RoutedResult {
  readonly result: KernelResult;
  readonly servedBy: ServedBy;
  /** Why the version this decision was routed to did not decide it (the decision is degraded); undefined if it did. */
  readonly degraded?: string;
}

/** moduleVersion of a result decided by the TypeScript reference kernel (the last fallback). */
export const REFERENCE_VERSION = "reference";

export interface ModuleRouterOptions {
  /** What main runs before any state names an active version (the build shipped with the process). */
  readonly initial: { readonly version: string; readonly bytes: Uint8Array };
  /** Main pool settings (size, capacity, its call time limit, ...). */
  readonly pool?: Omit<KernelPoolOptions, "moduleBytes" | "moduleVersion">;
  /** Workers of each canary, shadow and fallback pool (default 1). */
  readonly trialPoolSize?: number;
  readonly config: GuardConfig & Pick<ModuleConfig, "callTimeoutMs" | "rollbackWindow" | "shadowMaxInFlight">;
  /** Writes the rollback of `version` to the shared state (ModuleRegistry.updateState + rollbackVersion). */
  readonly rollback: (version: string, reason: string) => Promise<void>;
  /** Per-version calls and hangs shared across processes (default: this process only). */
  readonly health?: VersionHealth;
  readonly logger: Logger;
}

interface Trial {
  readonly version: string;
  readonly pool: KernelPool;
  readonly window: FailureWindow;
}

export interface RoleStats {
  readonly version: string;
  readonly calls: number;
  readonly failures: number;
  readonly errorRate: number;
}

export interface ModuleRouterStats {
  readonly active: RoleStats & { readonly inProbation: boolean };
  readonly fallback: string | undefined;
  readonly canary: (RoleStats & { readonly percent: number }) | undefined;
  readonly shadow: ShadowReport | undefined;
  /** Versions this router stopped using after a rollback rule condemned them. */
  readonly rolledBack: readonly string[];
}

class DeadlineError extends Error {
  override readonly name = "DeadlineError";
}

export class ModuleRouter {
  readonly #options: ModuleRouterOptions;
  readonly #main: KernelPool;
  /** A published active version when main runs inline: it runs here, in workers with a time limit. */
  #published: Trial | undefined;
  #activeVersion: string;
  #activeWindow: FailureWindow;
  #fallbackUntil = 0;
  #fallback: Trial | undefined;
  #canary: Trial | undefined;
  #canaryPercent = 0;
  #shadow: (Trial & { readonly comparison: ShadowComparison }) | undefined;
  #shadowInFlight = 0;
  readonly #inventories = new ResidentInventories();
  /** The rollback rules; versions condemned by this router. */
  readonly #condemned: RollbackGuard;
  #applying: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: ModuleRouterOptions) {
    this.#options = options;
    this.#main = new KernelPool({
      ...options.pool,
      moduleBytes: options.initial.bytes,
      moduleVersion: options.initial.version,
    });
    this.#activeVersion = options.initial.version;
    this.#activeWindow = new FailureWindow(options.config.rollbackWindow);
    this.#condemned = new RollbackGuard(options.config, options.rollback, options.logger, options.health);
  }

  /** Resolves once the main pool's workers can decide. */
  ready(): Promise<void> {
    return this.#main.ready();
  }

  get activeVersion(): string {
    return this.#activeVersion;
  }

  /** Makes `inventory` resident in every pool. */
  setInventory(inventory: KernelInventory): void {
    this.#inventories.add(inventory);
    for (const pool of this.#pools()) pool.setInventory(inventory);
  }

  /** Follows a ModuleWatcher view (pass this to watcher.onChange). Changes are applied one at a time. */
  apply(view: ModuleView): Promise<void> {
    this.#applying = this.#applying.then(() => this.#apply(view));
    return this.#applying;
  }

  /**
   * The gateway's Kernel port (gateway/decide/kernel-port.ts): the pod, naming the module version that made it
   * (and, when a fallback made it, why: `degraded`). Pass the decision id so the canary share is the same in
   * every gateway; without one a random id is used.
   */
  async decide(request: KernelRequest, decisionId: string = randomUUID()): Promise<KernelResult> {
    const routed = await this.route(decisionId, request);
    return routed.degraded === undefined ? routed.result : { ...routed.result, degraded: routed.degraded };
  }

  /** Decides and says which role answered. */
  async route(decisionId: string, request: KernelRequest): Promise<RoutedResult> {
    const canary = this.#canary;
    if (canary && bucketOf(decisionId) < this.#canaryPercent && !this.#condemned.has(canary.version)) {
      let canaryError: unknown;
      try {
        const result = await this.#checked(
          withDeadline(canary.pool.decide(request), this.#options.config.callTimeoutMs),
          request,
        );
        this.#record(canary.window, "canary", canary.version, false);
        return { result, servedBy: "canary" };
      } catch (err) {
        if (isCallerError(err)) throw err;
        canaryError = err;
      }
      // Main decides instead; a canary failure counts only if main could decide the same request.
      const routed = await this.#decideActive(request);
      this.#record(canary.window, "canary", canary.version, true, canaryError);
      return { ...routed, degraded: routed.degraded ?? `canary ${canary.version}: ${describe(canaryError)}` };
    }
    const shadowRun = this.#startShadow(request);
    const routed = await this.#decideActive(request);
    if (shadowRun) this.#compareShadow(shadowRun, routed);
    return routed;
  }

  stats(): ModuleRouterStats {
    const role = (version: string, window: FailureWindow): RoleStats => ({
      version,
      calls: window.total,
      failures: window.failures,
      errorRate: window.rate,
    });
    return {
      active: {
        ...role(this.#activeVersion, this.#activeWindow),
        inProbation:
          this.#activeVersion !== this.#options.initial.version && this.#condemned.inProbation(this.#activeVersion),
      },
      fallback: this.#fallbackHeld() ? this.#fallback?.version : REFERENCE_VERSION,
      canary: this.#canary && { ...role(this.#canary.version, this.#canary.window), percent: this.#canaryPercent },
      shadow: this.#shadow?.comparison.report(),
      rolledBack: this.#condemned.versions,
    };
  }

  /** Refuses new decisions and waits for accepted ones in every pool. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#applying;
    await Promise.all(this.#pools().map((pool) => pool.close()));
    await this.#condemned.health.close();
  }

  async #decideActive(request: KernelRequest): Promise<RoutedResult> {
    const version = this.#activeVersion;
    if (this.#condemned.has(version))
      return this.#decideFallback(request, `active ${version} is rolled back here; the rollback is on its way`);
    try {
      const result = await this.#checked((this.#published?.pool ?? this.#main).decide(request), request);
      this.#record(this.#activeWindow, "active", version, false);
      return { result, servedBy: "active" };
    } catch (err) {
      if (isCallerError(err)) throw err;
      this.#record(this.#activeWindow, "active", version, true, err);
      return this.#decideFallback(request, `active ${version}: ${describe(err)}`);
    }
  }

  /**
   * The previous version while it is held after an activation, else the TypeScript reference kernel (the
   * specification every build is tested against): a decision never fails for a module's fault.
   */
  async #decideFallback(request: KernelRequest, degraded: string): Promise<RoutedResult> {
    const fallback = this.#fallbackHeld() ? this.#fallback : undefined;
    if (fallback && !this.#condemned.has(fallback.version)) {
      try {
        return { result: await this.#checked(fallback.pool.decide(request), request), servedBy: "fallback", degraded };
      } catch (err) {
        if (isCallerError(err)) throw err;
        this.#options.logger.warn({ err, version: fallback.version }, "fallback kernel failed too; reference decides");
      }
    }
    const inventory = this.#inventories.get(request.inventoryVersion);
    if (!inventory) throw new KernelInventoryMismatchError(`inventory ${request.inventoryVersion} is not resident`);
    return {
      result: { ...decideReference(inventory, request), moduleVersion: REFERENCE_VERSION },
      servedBy: "fallback",
      degraded,
    };
  }

  /** The result once it passed the output checks against its request (a violation is the module's failure). */
  async #checked(run: Promise<KernelResult>, request: KernelRequest): Promise<KernelResult> {
    const result = await run;
    const inventory = this.#inventories.get(request.inventoryVersion);
    if (!inventory) throw new KernelInventoryMismatchError(`inventory ${request.inventoryVersion} is not resident`);
    checkKernelOutput(request, inventory, result);
    return result;
  }

  #startShadow(request: KernelRequest): Promise<KernelResult> | undefined {
    const shadow = this.#shadow;
    if (!shadow || this.#condemned.has(shadow.version)) return undefined;
    if (this.#shadowInFlight >= this.#options.config.shadowMaxInFlight) {
      shadow.comparison.skipped++;
      return undefined;
    }
    this.#shadowInFlight++;
    const run = this.#checked(withDeadline(shadow.pool.decide(request), this.#options.config.callTimeoutMs), request);
    run.then(
      () => this.#record(shadow.window, "shadow", shadow.version, false),
      (err: unknown) => {
        if (isCallerError(err)) return;
        shadow.comparison.failures++;
        this.#record(shadow.window, "shadow", shadow.version, true, err);
      },
    );
    void run.finally(() => this.#shadowInFlight--).catch(() => {});
    return run;
  }

  #compareShadow(run: Promise<KernelResult>, routed: RoutedResult): void {
    const shadow = this.#shadow;
    run.then(
      (result) => {
        if (routed.servedBy === "active" && shadow?.version === result.moduleVersion)
          shadow.comparison.add(routed.result, result);
      },
      () => {}, // counted where the run started
    );
  }

  #record(window: FailureWindow, role: string, version: string, failed: boolean, error?: unknown): void {
    // The shipped build is never rolled back (nothing to roll back to); its failures still fall back per call.
    this.#condemned.record(window, role, version, failed, error, version !== this.#options.initial.version);
  }

  async #apply(view: ModuleView): Promise<void> {
    if (this.#closed) return;
    const { state } = view;
    // A version rolled back here may be assigned again later on purpose: a newer state that names it clears it.
    this.#condemned.follow(state);

    const active = view.active ?? this.#options.initial;
    if (active.version !== this.#activeVersion) {
      const previous = view.previous;
      const { probationMs } = this.#options.config;
      if (previous && probationMs > 0 && !this.#condemned.has(previous.version)) {
        if (this.#fallback?.version !== previous.version) {
          const old = this.#fallback;
          this.#fallback = await this.#startTrial(previous.version, previous.bytes);
          if (old) void old.pool.close();
        }
        this.#fallbackUntil = Date.now() + probationMs;
        const fallback = this.#fallback;
        setTimeout(() => this.#retireFallback(fallback), probationMs).unref();
      } else {
        this.#fallbackUntil = 0;
        this.#retireFallback(this.#fallback);
      }
      const old = this.#published;
      if (this.#main.mode === "inline" && active.version !== this.#options.initial.version) {
        // Inline runs only the shipped build: a published version gets workers and its time limit.
        this.#published = await this.#startTrial(active.version, active.bytes);
      } else {
        this.#published = undefined;
        this.#main.setModule(active.version, active.bytes);
      }
      if (old) void old.pool.close();
      this.#options.logger.info({ from: this.#activeVersion, to: active.version }, "kernel module activated");
      this.#activeVersion = active.version;
      this.#activeWindow = new FailureWindow(this.#options.config.rollbackWindow);
    }

    const canary = view.canary && view.canary.version !== this.#activeVersion ? view.canary : undefined;
    if (canary?.version !== this.#canary?.version) {
      const old = this.#canary;
      this.#canary = canary && (await this.#startTrial(canary.version, canary.bytes));
      if (old) void old.pool.close();
    }
    this.#canaryPercent = this.#canary ? view.canaryPercent : 0;

    const shadow = view.shadow && view.shadow.version !== this.#activeVersion ? view.shadow : undefined;
    if (shadow?.version !== this.#shadow?.version) {
      const old = this.#shadow;
      this.#shadow = shadow && {
        ...(await this.#startTrial(shadow.version, shadow.bytes)),
        comparison: new ShadowComparison(shadow.version),
      };
      if (old) void old.pool.close();
    }
  }

  async #startTrial(version: string, bytes: Uint8Array): Promise<Trial> {
    const pool = new KernelPool({
      ...this.#options.pool,
      // Always workers, even when main runs inline: an unproven version must be stoppable by its time limit.
      mode: "pool",
      size: this.#options.trialPoolSize ?? 1,
      callTimeoutMs: this.#options.config.callTimeoutMs,
      moduleBytes: bytes,
      moduleVersion: version,
    });
    for (const inventory of this.#inventories.values()) pool.setInventory(inventory);
    await pool.ready();
    // Inventories may have been added while the workers started.
    for (const inventory of this.#inventories.values())
      if (!pool.hasInventory(inventory.version)) pool.setInventory(inventory);
    return { version, pool, window: new FailureWindow(this.#options.config.rollbackWindow) };
  }

  /** Closes the fallback pool once its time is over (unless a newer activation reused it). */
  #retireFallback(fallback: Trial | undefined): void {
    if (!fallback || fallback !== this.#fallback || this.#fallbackHeld()) return;
    this.#fallback = undefined;
    void fallback.pool.close();
  }

  #fallbackHeld(): boolean {
    return this.#fallback !== undefined && Date.now() < this.#fallbackUntil;
  }

  #pools(): KernelPool[] {
    return [this.#main, this.#published?.pool, this.#fallback?.pool, this.#canary?.pool, this.#shadow?.pool].filter(
      (pool): pool is KernelPool => pool !== undefined,
    );
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** 0..99, stable for a decision id across processes and releases. */
export function bucketOf(decisionId: string): number {
  return createHash("sha256").update(decisionId).digest().readUInt32BE(0) % 100;
}

/** Errors that are the request's or the caller's, not the module's: no retry elsewhere, nothing counted. */
function isCallerError(err: unknown): boolean {
  return err instanceof KernelInventoryMismatchError || err instanceof KernelClosedError;
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`no answer within ${ms} ms`)), ms);
  });
  // The call may still settle after the deadline; nobody waits for it then.
  promise.catch(() => {});
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
