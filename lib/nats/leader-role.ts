import type { Logger } from "../log/logger.ts";
import { LeaderElection, type LeaderElectionOptions } from "./leader-election.ts";

export interface Stoppable {
  stop(): Promise<void>;
}

export interface LeaderRoleOptions<L extends Stoppable, S extends Stoppable> {
  election: Omit<LeaderElectionOptions, "onElected" | "onDeposed" | "logger">;
  logger: Logger;
  /**
   * Builds the active instance once elected (e.g. rebuilds the Budget book, then serves). `isLeader` stays true
   * only while this election holds: check it before any act that must be the leader's alone.
   */
  lead: (epoch: number, isLeader: () => boolean) => Promise<L>;
  /** Builds what a standby runs meanwhile (optional). */
  standby?: () => Promise<S>;
  /** Called synchronously on deposition, before anything else: stop acting as leader now (unsubscribe). */
  fence?: (leader: L) => void;
}

/**
 * One role (Budget, ledger) run by several processes with exactly one active: a LeaderElection plus the
 * transitions between standby and leader, one at a time in order. A process whose leader side fails to start
 * ends (crash-only; its supervisor starts it again, and another instance takes the role).
 */
export class LeaderRole<L extends Stoppable, S extends Stoppable = Stoppable> {
  private current: { kind: "leader"; epoch: number; value: L } | { kind: "standby"; value: S } | undefined;
  private chain: Promise<void> = Promise.resolve();
  readonly election: LeaderElection;
  private firstAttempt!: () => void;
  private readonly settled = new Promise<void>((resolve) => {
    this.firstAttempt = resolve;
  });

  constructor(private readonly options: LeaderRoleOptions<L, S>) {
    this.election = new LeaderElection({
      ...options.election,
      logger: options.logger,
      onElected: (epoch) => this.enqueue(() => this.becomeLeader(epoch)),
      onDeposed: (epoch) => {
        const current = this.current;
        if (current?.kind === "leader" && current.epoch === epoch) options.fence?.(current.value);
        this.enqueue(() => this.becomeStandby());
      },
      onAttempt: () => this.firstAttempt(),
    });
  }

  /** Starts as standby (if any), campaigns, and resolves once the first campaign's outcome is in place. */
  async start(): Promise<this> {
    if (this.options.standby) {
      const standby = this.options.standby;
      this.enqueue(async () => {
        if (!this.current) this.current = { kind: "standby", value: await standby() };
      });
    }
    await this.chain;
    this.election.start();
    await this.settled;
    await this.chain;
    return this;
  }

  get isLeader(): boolean {
    return this.current?.kind === "leader" && this.election.isLeader();
  }

  /** What runs now: the leader's side or the standby's. */
  get active(): L | S | undefined {
    return this.current?.value;
  }

  async stop(): Promise<void> {
    await this.election.resign();
    await this.chain;
    const current = this.current;
    this.current = undefined;
    await current?.value.stop();
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((err: unknown) => {
      this.options.logger.fatal({ err }, "role transition failed; exiting");
      process.exit(1);
    });
  }

  private async becomeLeader(epoch: number): Promise<void> {
    const holds = () => this.election.isLeader() && this.election.epoch === epoch;
    if (!holds()) return;
    const leader = await this.options.lead(epoch, holds);
    if (!holds()) {
      await leader.stop();
      return;
    }
    const previous = this.current;
    this.current = { kind: "leader", epoch, value: leader };
    await previous?.value.stop();
  }

  private async becomeStandby(): Promise<void> {
    if (this.current?.kind !== "leader" || this.election.isLeader()) return;
    const previous = this.current;
    this.current = this.options.standby ? { kind: "standby", value: await this.options.standby() } : undefined;
    await previous.value.stop();
  }
}
