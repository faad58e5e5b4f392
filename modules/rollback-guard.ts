/**
 * The automatic-rollback rules shared by every module router (kernel and agent scoring). A version that holds a
 * role (active, canary or shadow) is judged on each failed call, by three rules, first match wins:
 *
 * - output: one answer that breaks the output contract (a vetoed or out-of-range winner, a price above the bid,
 *   NaN, ...) rolls it back at once, on probation or not: that is not a fault of the machine but of the code;
 * - probation: for its first `probationCalls` calls and `probationMs` after it got its role, one failure (trap,
 *   timeout, lost worker) rolls it back;
 * - hangs: `hangLimit` hangs or traps within `hangWindowMs` roll it back, however many calls succeed in between (a
 *   rare hang stays under any share, and a replaced worker forgets the module's own state);
 * - share: its failure share over its last calls (FailureWindow) passes `rollbackErrorRate`.
 *
 * Calls, hangs and the role's start are shared across processes and restarts (VersionHealth, the state history).
 * A condemned version is dropped by the router at once and `rollback` writes it out of the shared state (the
 * ModuleState history names the rule and the last error). A version condemned here may be assigned again on
 * purpose by a later state change.
 */
import { ModuleStateChange_Action as Action, type ModuleState } from "../gen/chorus/v1/module_pb.ts";
import type { Logger } from "../lib/log/logger.ts";
import type { FailureWindow } from "./failure-window.ts";
import type { ModuleConfig } from "./module-config.ts";
import { VersionHealth } from "./version-health.ts";

export type GuardConfig = Pick<
  ModuleConfig,
  "rollbackErrorRate" | "rollbackMinCalls" | "probationCalls" | "probationMs" | "hangLimit" | "hangWindowMs"
>;

/**
 * A failure that is a hang or a crash (a call past its time limit, a trap, a lost worker), whatever layer reported
 * it: the kernel pool's errors, the router's deadline, an agent lane's "timeout: ..." / "error: ..." problems.
 */
export function isHang(error: unknown): boolean {
  if (typeof error === "string") return error.startsWith("timeout") || error.startsWith("error");
  const name = (error as { name?: string } | undefined)?.name;
  return (
    name === "KernelTimeoutError" ||
    name === "DeadlineError" ||
    name === "KernelTrapError" ||
    name === "KernelWorkerLostError"
  );
}

/** A canary or shadow answer that came after the router's deadline, within the module's own time limit. */
export function isLate(error: unknown): boolean {
  return (error as { name?: string } | undefined)?.name === "KernelLateError";
}

/** An answer that breaks the output contract: the kernel's output checks, an agent's out-of-range scores. */
export function isOutputBreach(error: unknown): boolean {
  if (typeof error === "string") return !isHang(error);
  return (error as { name?: string } | undefined)?.name === "KernelOutputError";
}

export class RollbackGuard {
  /** Condemned versions, with the state revision they were condemned at. */
  readonly #condemned = new Map<string, bigint>();
  /** When each version got its current role (epoch ms), from the state history or first sight. */
  readonly #since = new Map<string, number>();
  #stateRevision = 0n;
  readonly health: VersionHealth;

  constructor(
    private readonly config: GuardConfig,
    private readonly rollback: (version: string, reason: string) => Promise<void>,
    private readonly logger: Logger,
    health?: VersionHealth,
  ) {
    this.health = health ?? new VersionHealth(undefined, "local", logger);
  }

  has(version: string): boolean {
    return this.#condemned.has(version);
  }

  get versions(): string[] {
    return [...this.#condemned.keys()];
  }

  /**
   * Follows a new state: a version it names again, two or more revisions after its condemnation, is cleared; each
   * named version's probation starts when the history last gave it its role.
   */
  follow(state: ModuleState): void {
    this.#stateRevision = state.revision;
    const named = [state.activeVersion, state.canaryVersion, state.shadowVersion].filter((v) => v !== "");
    for (const [version, revision] of this.#condemned) {
      if (named.includes(version) && state.revision > revision + 1n) this.#condemned.delete(version);
    }
    for (const version of named) {
      const assigned = state.history.findLast(
        (change) =>
          change.version === version &&
          (change.action === Action.ACTIVATE || change.action === Action.CANARY || change.action === Action.SHADOW),
      );
      const at = assigned?.at ? Number(assigned.at.seconds) * 1000 + Math.floor(assigned.at.nanos / 1e6) : undefined;
      this.#since.set(version, at ?? this.#since.get(version) ?? Date.now());
      void this.health.load(version);
    }
  }

  /** True while `version` is on probation (its first calls and minutes in a role). */
  inProbation(version: string, now = Date.now()): boolean {
    const since = this.#since.get(version) ?? now;
    return this.health.totals(version).calls <= this.config.probationCalls || now - since < this.config.probationMs;
  }

  /**
   * Records one call of `version`; condemns and rolls the version back when a rule says so and `judged` (the
   * shipped build is never judged: there is nothing to roll back to). True when this call condemned it.
   */
  record(
    window: FailureWindow,
    role: string,
    version: string,
    failed: boolean,
    error?: unknown,
    judged = true,
  ): boolean {
    window.record(failed, error);
    const hang = failed && isHang(error);
    const message = failed ? describe(error) : "";
    if (judged) this.health.record(version, failed, hang, message);
    if (!failed || !judged || this.#condemned.has(version)) return false;
    const reason = this.#verdict(window, role, version, hang, error, message);
    if (reason === undefined) return false;
    this.#condemned.set(version, this.#stateRevision);
    this.logger.error({ version, role }, `rolling back: ${reason}`);
    this.rollback(version, reason).catch((err: unknown) => {
      this.logger.error({ err, version }, "automatic rollback could not be written; version stays unused here");
    });
    return true;
  }

  #verdict(
    window: FailureWindow,
    role: string,
    version: string,
    hang: boolean,
    error: unknown,
    message: string,
  ): string | undefined {
    const { probationCalls, probationMs, hangLimit, hangWindowMs, rollbackErrorRate, rollbackMinCalls } = this.config;
    const now = Date.now();
    const totals = this.health.totals(version);
    if (!hang && isOutputBreach(error)) return `output: ${role} ${version} broke the output contract: ${message}`;
    // A late answer (it waited behind other calls, then answered within the module's own limit) is a failure for
    // the share rule, but neither a hang nor the module's fault: probation waits for a timeout, trap or lost worker.
    if (this.inProbation(version, now) && !isLate(error)) {
      const age = ((now - (this.#since.get(version) ?? now)) / 1000).toFixed(1);
      return (
        `probation: ${role} ${version} failed on call ${totals.calls} ` +
        `(probation ${probationCalls} calls and ${probationMs / 1000} s; ${age} s in): ${message}`
      );
    }
    if (hang) {
      const hangs = this.health.hangsSince(version, now - hangWindowMs);
      if (hangs >= hangLimit)
        return `hangs: ${role} ${version} hung or trapped ${hangs} times within ${hangWindowMs / 1000} s (limit ${hangLimit}; ${totals.calls} calls in all): ${message}`;
    }
    if (window.exceeds(rollbackErrorRate, rollbackMinCalls))
      return (
        `share: ${role} ${version} failed ${window.failures} of its last ${window.calls} calls ` +
        `(${window.rate.toFixed(2)} > ${rollbackErrorRate}); last: ${message}`
      );
    return undefined;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
