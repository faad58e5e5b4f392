/**
 * The automatic-rollback rule shared by every module router (kernel and agent scoring): each new version's
 * calls feed a FailureWindow; once its failure share passes the threshold the version is condemned here at once
 * (the router stops using it) and `rollback` writes it out of the shared state (the ModuleState history names the
 * reason). A version condemned here may be assigned again on purpose by a later state change.
 */
import type { ModuleState } from "../gen/chorus/v1/module_pb.ts";
import type { Logger } from "../lib/log/logger.ts";
import type { FailureWindow } from "./failure-window.ts";
import type { ModuleConfig } from "./module-config.ts";

export class RollbackGuard {
  /** Condemned versions, with the state revision they were condemned at. */
  readonly #condemned = new Map<string, bigint>();
  #stateRevision = 0n;

  constructor(
    private readonly config: Pick<ModuleConfig, "rollbackErrorRate" | "rollbackMinCalls">,
    private readonly rollback: (version: string, reason: string) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  has(version: string): boolean {
    return this.#condemned.has(version);
  }

  get versions(): string[] {
    return [...this.#condemned.keys()];
  }

  /** Follows a new state: a version it names again, two or more revisions after its condemnation, is cleared. */
  follow(state: ModuleState): void {
    this.#stateRevision = state.revision;
    for (const [version, revision] of this.#condemned) {
      const named = [state.activeVersion, state.canaryVersion, state.shadowVersion].includes(version);
      if (named && state.revision > revision + 1n) this.#condemned.delete(version);
    }
  }

  /**
   * Records one call of `version` in its window; condemns and rolls the version back when the window passes the
   * threshold and `judged` (e.g. an active kernel only while a fallback exists). True when this call condemned it.
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
    const { rollbackErrorRate, rollbackMinCalls } = this.config;
    if (!failed || !judged || this.#condemned.has(version) || !window.exceeds(rollbackErrorRate, rollbackMinCalls))
      return false;
    const reason =
      `${role} ${version} failed ${window.failures} of its last ${window.calls} calls ` +
      `(${window.rate.toFixed(2)} > ${rollbackErrorRate}); last: ${window.lastError}`;
    this.#condemned.set(version, this.#stateRevision);
    this.logger.error({ version, role, failures: window.failures, calls: window.calls }, `rolling back: ${reason}`);
    this.rollback(version, reason).catch((err: unknown) => {
      this.logger.error({ err, version }, "automatic rollback could not be written; version stays unused here");
    });
    return true;
  }
}
