/**
 * Spaces an agent's snapshot rounds by what they cost. A round that took `t` ms is followed by the next no sooner
 * than `costFactor * t` ms after it started (besides the timer's own interval), so writing snapshots costs at most
 * about 1/costFactor of a core however much state the agent holds.
 *
 * Why: a changed user shard is written whole. With 200,000 listener profiles every shard changes every second,
 * and Intent spent 97% of a core re-encoding its state (a 30-minute soak at 200 decisions/s, minute 15), starving
 * the gateway beside it. A small state (a round of a few ms) is still written every interval; a large one less
 * often: its snapshot is older when a crashed instance restarts, which the owner replays on top of anyway.
 */
export class PersistPacer {
  private notBefore = Number.NEGATIVE_INFINITY;

  constructor(private readonly costFactor = 20) {}

  /** Whether a round may start now (a forced round, at stop, does not ask; erasure writes only its own shards). */
  mayRun(nowMs: number): boolean {
    return nowMs >= this.notBefore;
  }

  /** Records a round that ran from `startedMs` to `endedMs`. */
  ran(startedMs: number, endedMs: number): void {
    this.notBefore = startedMs + this.costFactor * Math.max(0, endedMs - startedMs);
  }
}
