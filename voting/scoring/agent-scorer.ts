/**
 * One agent's hot-swapped scoring in one process (gateway or agent host): which module version scores each
 * vote, and watching the new ones. Which version holds which role, and how a new state moves them, is the rollout
 * state machine shared with the kernel's router (modules/rollout-state-machine.ts); roles here:
 *
 * - active: the version the module state names (the shipped build until then). A new one is started in its own
 *   worker and swapped in between two votes (a vote is synchronous: it runs on exactly one version).
 * - canary: `percent` of votes, by a hash of the run id (the same decision lands on the same side in every
 *   process and every agent).
 * - shadow: given a copy of the active call's input after the vote, asynchronously; its scores are compared, never
 *   used. One call in flight at most; further votes are not shadowed (counted as skipped).
 *
 * The shipped build runs on the calling thread (InlineScoringLane: trusted like the TypeScript it reproduces, no
 * copies); published versions run in a worker with a time limit (AgentScoringLane). A call that traps, breaks the
 * output contract (agent-scoring.ts outputProblem) or passes its time limit fails alone: the vote is scored with
 * the built-in TypeScript formulas instead and marked (scoringOf(vote).failure,
 * the engine lists the agent as degraded), and the worker is replaced (AgentScoringLane). Failures feed each
 * version's FailureWindow; past the threshold the RollbackGuard condemns the version here at once and writes
 * its rollback to the shared state.
 */
import type { AgentVote } from "../../gen/chorus/v1/agent_pb.ts";
import { DegradedReason, Fallback } from "../../gen/chorus/v1/decision_pb.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { FailureWindow } from "../../modules/failure-window.ts";
import type { ModuleConfig } from "../../modules/module-config.ts";
import type { ModuleView } from "../../modules/module-watcher.ts";
import type { GuardConfig } from "../../modules/rollback-guard.ts";
import { type ModuleRouterStats, type RoleSlot, Rollout } from "../../modules/rollout-state-machine.ts";
import type { VersionHealth } from "../../modules/version-health.ts";
import { InlineScoringLane } from "../../wasm-core/src/agent-scoring-inline.ts";
import { AgentScoringLane, type ScoringBuffers } from "../../wasm-core/src/agent-scoring-lane.ts";
import type { VoteContext } from "../contract/agent-module.ts";
import type { Degradation } from "../contract/degradation.ts";
import { type AgentScoring, localBuffers, outputProblem } from "./agent-scoring.ts";

/** Which scoring made a vote: the module version (or the TypeScript agent's version) and a failure, if any. */
export interface VoteScoring {
  readonly version: string;
  readonly failure?: "error" | "timeout";
}

const scorings = new WeakMap<AgentVote, VoteScoring>();

/** How a vote was scored, for votes made by an AgentScorer in this process (undefined otherwise). */
export function scoringOf(vote: AgentVote): VoteScoring | undefined {
  return scorings.get(vote);
}

/** A shadow's score differing by more than this counts as a different decision. */
export const SCORE_TOLERANCE = 1e-9;

export interface AgentScorerOptions {
  /** What runs before any state names an active version (the build shipped with the process). */
  readonly initial: { readonly version: string; readonly bytes: Uint8Array };
  /** The TypeScript agent's version, stamped on votes scored by the built-in formulas. */
  readonly builtinVersion: string;
  /** Largest candidate set scored by a module (larger ones use the built-in formulas). */
  readonly capacity?: number;
  /** Run the shipped build on the calling thread (default true); false gives it a worker like any version. */
  readonly inlineShippedBuild?: boolean;
  readonly config: GuardConfig & Pick<ModuleConfig, "agentCallTimeoutMs" | "agentMaxMemoryMb" | "rollbackWindow">;
  readonly rollback: (version: string, reason: string) => Promise<void>;
  /** Per-version calls and hangs shared across processes (default: this process only). */
  readonly health?: VersionHealth;
  readonly logger: Logger;
}

/** A worker with a time limit (published versions) or the calling thread (the shipped build). */
export type ScoringLane = AgentScoringLane | InlineScoringLane;

interface Role extends RoleSlot {
  readonly lane: ScoringLane;
  /** What a vote this role scored records (one object per role: nobody modifies it). */
  readonly scored: VoteScoring;
}

export class AgentScorer {
  /** Which version holds which role here (modules/rollout-state-machine.ts, shared with the kernel's router). */
  #rollout!: Rollout<Role>;

  private constructor(
    // biome-ignore lint/suspicious/noExplicitAny: the state and carry types are the agent's own.
    readonly scoring: AgentScoring<any, any>,
    private readonly options: AgentScorerOptions,
  ) {}

  // biome-ignore lint/suspicious/noExplicitAny: see the constructor.
  static async start(scoring: AgentScoring<any, any>, options: AgentScorerOptions): Promise<AgentScorer> {
    const scorer = new AgentScorer(scoring, options);
    scorer.#rollout = new Rollout<Role>({
      initial: options.initial,
      initialSlot: await scorer.#startRole(options.initial.version, options.initial.bytes),
      host: {
        start: (_role, version, bytes) => scorer.#tryStart(version, bytes),
        stop: (role) => role.lane.close(),
      },
      // No previous version is held: the TypeScript formulas stand behind every agent version.
      holdPrevious: false,
      config: options.config,
      rollback: options.rollback,
      health: options.health,
      logger: options.logger,
      label: "scoring module",
    });
    return scorer;
  }

  get activeVersion(): string {
    return this.#rollout.active.version;
  }

  /** The lane of a role, for tests and reports (thread ids, replacements). */
  lane(role: "active" | "canary" | "shadow"): ScoringLane | undefined {
    return this.#rollout[role]?.lane;
  }

  /** The agent's vote, scored by the version this decision is routed to. Never throws for a module's fault. */
  vote(ctx: VoteContext, state: unknown): AgentVote {
    const canary = this.#rollout.canaryFor(ctx.runId);
    const role = canary ?? this.#rollout.servingActive();
    const buffers = role?.lane.buffers;
    const capacity = role?.lane.capacity ?? 0;
    if (!role || !buffers || ctx.inventory.size > capacity) return this.#builtin(ctx, state, undefined);
    const { n, carry } = this.scoring.extract(ctx, state, buffers);
    const outcome = role.lane.call(n);
    if (outcome === "unavailable") return this.#builtin(ctx, state, undefined, buffers, n, carry);
    const problem =
      outcome === "ok"
        ? outputProblem(buffers.output, n, this.scoring.extraRange, 1 + capacity)
        : `${outcome}: ${role.lane.lastError}`;
    const roleName = role === canary ? "canary" : "active";
    this.#rollout.record(role, roleName, problem !== undefined, problem);
    if (problem !== undefined) {
      this.options.logger.warn({ version: role.version, role: roleName, problem }, "scoring module call failed");
      return this.#builtin(ctx, state, outcome === "timeout" ? "timeout" : "error", buffers, n, carry);
    }
    const vote = this.scoring.finish(ctx, state, carry, n, { output: buffers.output, capacity });
    scorings.set(vote, role.scored);
    if (role === this.#rollout.active) this.#startShadow(buffers, n);
    return vote;
  }

  /** Follows a ModuleWatcher view (pass this to watcher.onChange). Changes are applied one at a time. */
  apply(view: ModuleView): Promise<void> {
    return this.#rollout.apply(view);
  }

  stats(): ModuleRouterStats {
    return this.#rollout.stats(undefined);
  }

  async close(): Promise<void> {
    await this.#rollout.close();
  }

  /** The built-in formulas on the input already extracted (or extracted now). */
  #builtin(
    ctx: VoteContext,
    state: unknown,
    failure: VoteScoring["failure"],
    extracted?: ScoringBuffers,
    n?: number,
    carry?: unknown,
  ): AgentVote {
    let buffers = extracted;
    if (!buffers || n === undefined) {
      buffers = localBuffers(this.scoring.layout, ctx.inventory.size);
      ({ n, carry } = this.scoring.extract(ctx, state, buffers));
    }
    const capacity = (buffers.output.length - 1) / 2;
    this.scoring.reference(n, buffers, capacity);
    const vote = this.scoring.finish(ctx, state, carry, n, { output: buffers.output, capacity });
    scorings.set(vote, { version: this.options.builtinVersion, failure });
    return vote;
  }

  #startShadow(served: ScoringBuffers, n: number): void {
    const shadow = this.#rollout.servingShadow();
    if (!shadow) return;
    const target = shadow.lane.buffers;
    if (!target || shadow.lane.busy || n > shadow.lane.capacity) {
      shadow.comparison.skipped++;
      return;
    }
    const { features } = this.scoring.layout;
    target.context.set(served.context);
    target.features.set(served.features.subarray(0, n * features));
    const active = served.output.slice(0, 1 + n);
    void shadow.lane.callAsync(n).then((outcome) => {
      if (outcome === "unavailable") {
        shadow.comparison.skipped++;
        return;
      }
      const problem =
        outcome === "ok"
          ? outputProblem(target.output, n, this.scoring.extraRange, 1 + shadow.lane.capacity)
          : `${outcome}: ${shadow.lane.lastError}`;
      this.#rollout.record(shadow, "shadow", problem !== undefined, problem);
      if (problem !== undefined) {
        shadow.comparison.failures++;
        return;
      }
      let sum = 0;
      let differs = false;
      for (let c = 1; c <= n; c++) {
        const delta = Math.abs(target.output[c]! - active[c]!);
        sum += delta;
        if (delta > SCORE_TOLERANCE) differs = true;
      }
      shadow.comparison.record(differs, n === 0 ? 0 : sum / n);
    });
  }

  async #tryStart(version: string, bytes: Uint8Array): Promise<Role | undefined> {
    try {
      return await this.#startRole(version, bytes);
    } catch (err) {
      this.options.logger.error({ err, version }, "scoring module did not start here; not used");
      return undefined;
    }
  }

  async #startRole(version: string, bytes: Uint8Array): Promise<Role> {
    const capacity = this.options.capacity ?? 4_096;
    // The shipped build runs on the calling thread (see InlineScoringLane); anything published, in a worker.
    const lane =
      version === this.options.initial.version && this.options.inlineShippedBuild !== false
        ? new InlineScoringLane(bytes, this.scoring.layout, capacity)
        : await AgentScoringLane.start({
            bytes,
            layout: this.scoring.layout,
            capacity,
            callTimeoutMs: this.options.config.agentCallTimeoutMs,
            maxMemoryBytes: this.options.config.agentMaxMemoryMb * 1024 * 1024,
          });
    return { version, lane, window: new FailureWindow(this.options.config.rollbackWindow), scored: { version } };
  }
}

/**
 * For the decision engine, after gathering: stamps each vote scored in this process with the version that
 * scored it, and reports each agent whose module call failed (ERROR or TIMEOUT; its vote is the built-in formulas
 * on the same signals).
 */
export function applyVoteScoring(votes: ReadonlyMap<string, AgentVote>): Degradation[] {
  const failed: Degradation[] = [];
  for (const [agent, vote] of votes) {
    const scoring = scorings.get(vote);
    if (!scoring) continue;
    vote.moduleVersion = scoring.version;
    if (scoring.failure)
      failed.push({
        agent,
        reason: scoring.failure === "timeout" ? DegradedReason.TIMEOUT : DegradedReason.ERROR,
        fallback: Fallback.LAST_SIGNAL,
      });
  }
  return failed;
}
