/**
 * The rollout state machine of one module in one process: which version holds which role here, and how each new
 * ModuleState (a ModuleWatcher view) moves the roles. The kernel's ModuleRouter and every agent's AgentScorer
 * run this one machine; what a role runs on (a KernelPool, an agent scoring lane) is theirs, started and stopped
 * through `RoleHost`. The shared state it follows is written by module-state-changes.ts (the CLI and automatic
 * rollbacks); this machine never writes it except through the RollbackGuard's `rollback`.
 *
 * States of a version in this process:
 *
 * - **active**: serves every decision outside the canary share. The shipped build until a state names another.
 * - **previous**: the version active before the last activation, held `probationMs` as the fallback of a failed
 *   call (only for hosts with `holdPrevious`: the kernel; an agent's fallback is its TypeScript formulas). Not
 *   held while it is rolled back here.
 * - **canary**: serves `percent` of decisions, chosen by `bucketOf(decision id)` (the same side in every process).
 * - **shadow**: runs beside active on live requests; only compared (ShadowComparison), never served.
 * - **probation**: any role, during its first `probationCalls` calls and `probationMs` in the role (RollbackGuard).
 * - **rolled back**: condemned here by a rollback rule (RollbackGuard): no role serves it from that call on, and the
 *   rollback is written to the shared state. Cleared when a state two or more revisions later names it again.
 *
 * Transitions, on `apply(view)` (one view at a time, in order):
 *
 * 1. follow: the guard reads the state (clears rolled-back versions named again, starts probation clocks).
 * 2. activate (promote a canary = activate it; a rollback = activate the previous): when the view's active version
 *    (the shipped build if none) is not ours: with `holdPrevious`, the view's previous version becomes the held
 *    previous for `probationMs` (reused if already held; released at once if there is none, probation is 0 or it
 *    is rolled back here); then the new active is started. If it does not start (`start` gives undefined) the old
 *    one stays active; else the old one is stopped and the new one serves from the next decision.
 * 3. canary: the view's canary unless it is the active version; started or stopped when the version changes;
 *    its percent is the view's while a canary runs, else 0.
 * 4. shadow: the view's shadow unless it is the active version; started or stopped when the version changes, with
 *    a fresh ShadowComparison.
 * 5. release previous: `probationMs` after the activation that held it, unless a newer activation held it again.
 *
 * After `close()` no view is applied.
 */
import { createHash } from "node:crypto";
import type { Logger } from "../lib/log/logger.ts";
import type { FailureWindow } from "./failure-window.ts";
import type { ModuleView } from "./module-watcher.ts";
import { type GuardConfig, RollbackGuard } from "./rollback-guard.ts";
import { ShadowComparison, type ShadowReport } from "./shadow-comparison.ts";
import type { VersionHealth } from "./version-health.ts";

export type RoleName = "active" | "previous" | "canary" | "shadow";

/** What a role runs on, as its host made it; the machine needs only its version and failure window. */
export interface RoleSlot {
  readonly version: string;
  readonly window: FailureWindow;
}

export interface RoleHost<S extends RoleSlot> {
  /**
   * Starts `version` for `role`. Undefined: it did not start here (an active role stays as it was, another role
   * stays empty). A throw rejects the `apply`.
   */
  start(role: RoleName, version: string, bytes: Uint8Array): Promise<S | undefined>;
  /** Stops a slot no role holds any more (not awaited, except at close). */
  stop(slot: S): Promise<void> | void;
}

export interface RolloutOptions<S extends RoleSlot> {
  /** The build shipped with the process: active until a state names another, never rolled back. */
  readonly initial: { readonly version: string; readonly bytes: Uint8Array };
  /** The slot the shipped build runs in. */
  readonly initialSlot: S;
  readonly host: RoleHost<S>;
  /** Hold the previous active version for `probationMs` after an activation (the kernel's fallback). */
  readonly holdPrevious: boolean;
  readonly config: GuardConfig;
  /** Writes the rollback of `version` to the shared state. */
  readonly rollback: (version: string, reason: string) => Promise<void>;
  readonly health?: VersionHealth;
  readonly logger: Logger;
  /** Names the module in logs ("kernel module", "scoring module"). */
  readonly label: string;
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

export type ShadowSlot<S extends RoleSlot> = S & { readonly comparison: ShadowComparison };

export class Rollout<S extends RoleSlot> {
  readonly #options: RolloutOptions<S>;
  readonly #guard: RollbackGuard;
  #active: S;
  #previous: S | undefined;
  #previousUntil = 0;
  #canary: S | undefined;
  #canaryPercent = 0;
  #shadow: ShadowSlot<S> | undefined;
  #applying: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: RolloutOptions<S>) {
    this.#options = options;
    this.#active = options.initialSlot;
    this.#guard = new RollbackGuard(options.config, options.rollback, options.logger, options.health);
  }

  get active(): S {
    return this.#active;
  }

  /** The previous version while it is held after an activation. */
  get previous(): S | undefined {
    return this.#previous !== undefined && Date.now() < this.#previousUntil ? this.#previous : undefined;
  }

  get canary(): S | undefined {
    return this.#canary;
  }

  get canaryPercent(): number {
    return this.#canaryPercent;
  }

  get shadow(): ShadowSlot<S> | undefined {
    return this.#shadow;
  }

  rolledBack(version: string): boolean {
    return this.#guard.has(version);
  }

  /** The canary when this decision falls in its share and it is not rolled back. */
  canaryFor(decisionId: string): S | undefined {
    const canary = this.#canary;
    return canary && bucketOf(decisionId) < this.#canaryPercent && !this.#guard.has(canary.version)
      ? canary
      : undefined;
  }

  /** The active version unless it is rolled back here (its rollback is on its way). */
  servingActive(): S | undefined {
    return this.#guard.has(this.#active.version) ? undefined : this.#active;
  }

  /** The held previous version unless it is rolled back here. */
  servingPrevious(): S | undefined {
    const previous = this.previous;
    return previous && !this.#guard.has(previous.version) ? previous : undefined;
  }

  /** The shadow unless it is rolled back here. */
  servingShadow(): ShadowSlot<S> | undefined {
    const shadow = this.#shadow;
    return shadow && !this.#guard.has(shadow.version) ? shadow : undefined;
  }

  /** Every slot a role holds (the held previous even past its time, until it is released). */
  slots(): S[] {
    return [this.#active, this.#previous, this.#canary, this.#shadow].filter((s): s is S => s !== undefined);
  }

  /**
   * Records one call of `slot`'s version in `role` for the rollback rules (the shipped build is never judged:
   * nothing to roll back to; its failures still fall back per call). True when this call rolled it back.
   */
  record(slot: RoleSlot, role: string, failed: boolean, error?: unknown): boolean {
    return this.#guard.record(
      slot.window,
      role,
      slot.version,
      failed,
      error,
      slot.version !== this.#options.initial.version,
    );
  }

  /** Follows a ModuleWatcher view (pass this to watcher.onChange). Views are applied one at a time, in order. */
  apply(view: ModuleView): Promise<void> {
    this.#applying = this.#applying.then(() => this.#apply(view));
    return this.#applying;
  }

  stats(fallback: string | undefined): ModuleRouterStats {
    const role = (slot: S): RoleStats => ({
      version: slot.version,
      calls: slot.window.total,
      failures: slot.window.failures,
      errorRate: slot.window.rate,
    });
    const active = this.#active;
    return {
      active: {
        ...role(active),
        inProbation: active.version !== this.#options.initial.version && this.#guard.inProbation(active.version),
      },
      fallback,
      canary: this.#canary && { ...role(this.#canary), percent: this.#canaryPercent },
      shadow: this.#shadow?.comparison.report(),
      rolledBack: this.#guard.versions,
    };
  }

  /** Applies no further view, waits for the one in progress, stops every slot and the shared health. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#applying;
    await Promise.all(this.slots().map((slot) => this.#options.host.stop(slot)));
    await this.#guard.health.close();
  }

  async #apply(view: ModuleView): Promise<void> {
    if (this.#closed) return;
    const { host } = this.#options;
    this.#guard.follow(view.state);

    const active = view.active ?? this.#options.initial;
    if (active.version !== this.#active.version) {
      if (this.#options.holdPrevious) await this.#holdPrevious(view);
      const next = await host.start("active", active.version, active.bytes);
      if (next) {
        const old = this.#active;
        this.#active = next; // the next decision runs on it: a decision never spans two versions
        void host.stop(old);
        this.#options.logger.info({ from: old.version, to: next.version }, `${this.#options.label} activated`);
      }
    }

    const canary = view.canary && view.canary.version !== this.#active.version ? view.canary : undefined;
    if (canary?.version !== this.#canary?.version) {
      const old = this.#canary;
      this.#canary = canary && (await host.start("canary", canary.version, canary.bytes));
      if (old) void host.stop(old);
    }
    this.#canaryPercent = this.#canary ? view.canaryPercent : 0;

    const shadow = view.shadow && view.shadow.version !== this.#active.version ? view.shadow : undefined;
    if (shadow?.version !== this.#shadow?.version) {
      const old = this.#shadow;
      const slot = shadow && (await host.start("shadow", shadow.version, shadow.bytes));
      this.#shadow = slot && { ...slot, comparison: new ShadowComparison(slot.version) };
      if (old) void host.stop(old);
    }
  }

  async #holdPrevious(view: ModuleView): Promise<void> {
    const previous = view.previous;
    const { probationMs } = this.#options.config;
    if (previous && probationMs > 0 && !this.#guard.has(previous.version)) {
      if (this.#previous?.version !== previous.version) {
        const old = this.#previous;
        this.#previous = await this.#options.host.start("previous", previous.version, previous.bytes);
        if (old) void this.#options.host.stop(old);
      }
      this.#previousUntil = Date.now() + probationMs;
      const held = this.#previous;
      setTimeout(() => this.#release(held), probationMs).unref();
    } else {
      this.#previousUntil = 0;
      this.#release(this.#previous);
    }
  }

  /** Stops the previous version once its time is over (unless a newer activation held it again). */
  #release(previous: S | undefined): void {
    if (!previous || previous !== this.#previous || this.previous !== undefined) return;
    this.#previous = undefined;
    void this.#options.host.stop(previous);
  }
}

/** 0..99, stable for a decision id across processes and releases. */
export function bucketOf(decisionId: string): number {
  return createHash("sha256").update(decisionId).digest().readUInt32BE(0) % 100;
}
