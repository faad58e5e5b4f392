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
 * Which version holds which role, and how a new state moves them, is the rollout state machine
 * (rollout-state-machine.ts, shared with the agents' AgentScorer); this file only runs the roles on pools.
 * Every result of every role is checked against its request (wasm-core kernel-output-checks.ts) before it is
 * used. Each version's calls feed the RollbackGuard (probation, hang and share rules); a condemned version is
 * dropped at once and `rollback` writes the state back (ModuleState history names the rule).
 */
import { randomUUID } from "node:crypto";
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
import type { GuardConfig } from "./rollback-guard.ts";
import { type ModuleRouterStats, type RoleSlot, Rollout } from "./rollout-state-machine.ts";
import type { VersionHealth } from "./version-health.ts";

export { bucketOf, type ModuleRouterStats, type RoleStats } from "./rollout-state-machine.ts";

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

/** A role's pool: main (not owned by the role: it stays) or a pool of its own, with time limits. */
interface Trial extends RoleSlot {
  readonly pool: KernelPool;
  readonly owned: boolean;
}

/** The router's deadline of a canary or shadow call; `outcome` is what the call itself came to (see #recordFailure). */
class DeadlineError extends Error {
  override readonly name = "DeadlineError";
  constructor(
    message: string,
    readonly outcome: Promise<unknown>,
  ) {
    super(message);
  }
}

/** A call that answered, correctly, only after its role's deadline (it waited in the queue): not the module's hang. */
export class KernelLateError extends Error {
  override readonly name = "KernelLateError";
}

export class ModuleRouter {
  readonly #options: ModuleRouterOptions;
  readonly #main: KernelPool;
  /** Which version holds which role here (modules/rollout-state-machine.ts). */
  readonly #rollout: Rollout<Trial>;
  #shadowInFlight = 0;
  readonly #inventories: ResidentInventories;

  constructor(options: ModuleRouterOptions) {
    this.#options = options;
    this.#inventories = new ResidentInventories(options.pool?.residentInventories);
    this.#main = new KernelPool({
      ...options.pool,
      moduleBytes: options.initial.bytes,
      moduleVersion: options.initial.version,
    });
    this.#rollout = new Rollout<Trial>({
      initial: options.initial,
      initialSlot: this.#mainSlot(options.initial.version),
      host: {
        start: (role, version, bytes) =>
          role === "active" ? this.#startActive(version, bytes) : this.#startTrial(version, bytes),
        stop: (trial) => (trial.owned ? trial.pool.close() : undefined),
      },
      holdPrevious: true,
      config: options.config,
      rollback: options.rollback,
      health: options.health,
      logger: options.logger,
      label: "kernel module",
    });
  }

  /** Resolves once the main pool's workers can decide. */
  ready(): Promise<void> {
    return this.#main.ready();
  }

  get activeVersion(): string {
    return this.#rollout.active.version;
  }

  /** How many inventories each pool keeps resident (the last added). */
  get residentLimit(): number {
    return this.#inventories.limit;
  }

  /** Makes `inventory` resident in every pool. */
  setInventory(inventory: KernelInventory): void {
    this.#inventories.add(inventory);
    for (const pool of this.#pools()) pool.setInventory(inventory);
  }

  /** Follows a ModuleWatcher view (pass this to watcher.onChange). Changes are applied one at a time. */
  apply(view: ModuleView): Promise<void> {
    return this.#rollout.apply(view);
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
    const canary = this.#rollout.canaryFor(decisionId);
    if (canary) {
      let canaryError: unknown;
      try {
        const result = await withDeadline(
          this.#checked(canary.pool.decide(request), request),
          this.#options.config.callTimeoutMs,
        );
        this.#rollout.record(canary, "canary", false);
        return { result, servedBy: "canary" };
      } catch (err) {
        if (isCallerError(err)) throw err;
        canaryError = err;
      }
      // Main decides instead; a canary failure counts only if main could decide the same request.
      const routed = await this.#decideActive(request);
      this.#recordFailure(canary, "canary", canaryError);
      return { ...routed, degraded: routed.degraded ?? `canary ${canary.version}: ${describe(canaryError)}` };
    }
    const shadowRun = this.#startShadow(request);
    const routed = await this.#decideActive(request);
    if (shadowRun) this.#compareShadow(shadowRun, routed);
    return routed;
  }

  stats(): ModuleRouterStats {
    return this.#rollout.stats(this.#rollout.previous?.version ?? REFERENCE_VERSION);
  }

  /** Refuses new decisions and waits for accepted ones in every pool. */
  async close(): Promise<void> {
    await this.#rollout.close();
    await this.#main.close();
  }

  async #decideActive(request: KernelRequest): Promise<RoutedResult> {
    const active = this.#rollout.active;
    if (this.#rollout.rolledBack(active.version))
      return this.#decideFallback(request, `active ${active.version} is rolled back here; the rollback is on its way`);
    try {
      const result = await this.#checked(active.pool.decide(request), request);
      this.#rollout.record(active, "active", false);
      return { result, servedBy: "active" };
    } catch (err) {
      if (isCallerError(err)) throw err;
      this.#rollout.record(active, "active", true, err);
      return this.#decideFallback(request, `active ${active.version}: ${describe(err)}`);
    }
  }

  /**
   * The previous version while it is held after an activation, else the TypeScript reference kernel (the
   * specification every build is tested against): a decision never fails for a module's fault.
   */
  async #decideFallback(request: KernelRequest, degraded: string): Promise<RoutedResult> {
    const fallback = this.#rollout.servingPrevious();
    if (fallback) {
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
    const shadow = this.#rollout.servingShadow();
    if (!shadow) return undefined;
    if (this.#shadowInFlight >= this.#options.config.shadowMaxInFlight) {
      shadow.comparison.skipped++;
      return undefined;
    }
    this.#shadowInFlight++;
    const call = this.#checked(shadow.pool.decide(request), request);
    // In flight until the call itself ends, not its deadline: calls behind a hung one must not pile up.
    void call.finally(() => this.#shadowInFlight--).catch(() => {});
    const run = withDeadline(call, this.#options.config.callTimeoutMs);
    run.then(
      () => this.#rollout.record(shadow, "shadow", false),
      (err: unknown) => {
        if (isCallerError(err)) return;
        shadow.comparison.failures++;
        this.#recordFailure(shadow, "shadow", err);
      },
    );
    return run;
  }

  #compareShadow(run: Promise<KernelResult>, routed: RoutedResult): void {
    run.then(
      (result) => {
        const shadow = this.#rollout.shadow;
        if (routed.servedBy === "active" && shadow?.version === result.moduleVersion)
          shadow.comparison.add(routed.result, result);
      },
      () => {}, // counted where the run started
    );
  }

  /** Main, running `version`. */
  #mainSlot(version: string): Trial {
    return { version, pool: this.#main, owned: false, window: new FailureWindow(this.#options.config.rollbackWindow) };
  }

  async #startActive(version: string, bytes: Uint8Array): Promise<Trial> {
    // Inline runs only the shipped build: a published version gets workers and its time limit.
    if (this.#main.mode === "inline" && version !== this.#options.initial.version)
      return this.#startTrial(version, bytes);
    this.#main.setModule(version, bytes);
    return this.#mainSlot(version);
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
    return { version, pool, owned: true, window: new FailureWindow(this.#options.config.rollbackWindow) };
  }

  /**
   * Records a failed canary or shadow call against its version. A call past the role's deadline is recorded as what
   * the call itself came to, once it ends: the module's own time limit or trap (a hang), an output breach, or a late
   * answer (it waited behind another call: a failure, not a hang). The deadline fires before the pool's own watchdog,
   * so counting it as a hang would count a real hang once per call queued behind it.
   */
  #recordFailure(slot: Trial, role: "canary" | "shadow", err: unknown): void {
    if (!(err instanceof DeadlineError)) {
      this.#rollout.record(slot, role, true, err);
      return;
    }
    void err.outcome.then((outcome) => {
      if (!isCallerError(outcome)) this.#rollout.record(slot, role, true, outcome);
    });
  }

  #pools(): KernelPool[] {
    return [
      this.#main,
      ...this.#rollout
        .slots()
        .filter((slot) => slot.owned)
        .map((slot) => slot.pool),
    ];
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Errors that are the request's or the caller's, not the module's: no retry elsewhere, nothing counted. */
function isCallerError(err: unknown): boolean {
  return err instanceof KernelInventoryMismatchError || err instanceof KernelClosedError;
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  // What the call came to, for the record: its error, or a late answer.
  const outcome = promise.then(
    () => new KernelLateError(`answered after the ${ms} ms deadline (it waited behind other calls)`),
    (err: unknown) => err,
  );
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`no answer within ${ms} ms`, outcome)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
