import type { MemoryReport } from "./child-lifecycle.ts";
import { type ChildSpec, queryMemoryUsage, type RunningChild, startChild, stopChild } from "./launcher.ts";

export interface SupervisorOptions {
  silent?: boolean;
  /** First restart delay; doubles per restart in a row, up to `maxBackoffMs` (defaults 500 ms, 30 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** This many restarts within `loopWindowMs` is a crash loop, reported as such (defaults 5 in 60 s). */
  loopRestarts?: number;
  loopWindowMs?: number;
  /** Where restarts and crash loops are reported (default: stderr). */
  report?: (line: string) => void;
}

/**
 * A Chorus process kept running: when it exits without being asked to, it is started again after a backoff that
 * doubles with each restart in a row (and starts over once it has run for a minute), and every exit and restart is
 * printed. Restarts in quick succession are reported as a crash loop: said, not hidden, and still retried at the
 * longest backoff.
 */
export class Supervised {
  current: RunningChild;
  restarts = 0;
  #stopping = false;
  #recent: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  #startedAt = Date.now();

  private constructor(
    readonly spec: ChildSpec,
    first: RunningChild,
    private readonly options: SupervisorOptions,
  ) {
    this.current = first;
    this.#watch(first);
  }

  static async start(spec: ChildSpec, options: SupervisorOptions = {}): Promise<Supervised> {
    return new Supervised(spec, await startChild(spec, { silent: options.silent }), options);
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number {
    return this.current.pid;
  }

  /** The current process's heap, external and RSS (undefined when it does not answer in time); see queryMemoryUsage. */
  memoryUsage(timeoutMs?: number, afterGc?: boolean): Promise<MemoryReport | undefined> {
    return queryMemoryUsage(this.current.process, timeoutMs, afterGc);
  }

  /** No more restarts from now on (a mesh stopping its children one by one calls this on all of them first). */
  beginStop(): void {
    this.#stopping = true;
    clearTimeout(this.#timer);
  }

  async stop(): Promise<void> {
    this.beginStop();
    await stopChild(this.current.process);
  }

  #report(line: string): void {
    (this.options.report ?? ((l: string) => process.stderr.write(`${l}\n`)))(`[supervisor] ${line}`);
  }

  #watch(child: RunningChild): void {
    child.process.once("exit", (code, signal) => {
      if (this.#stopping) return;
      const now = Date.now();
      // A process that ran for a minute was healthy: its next restart starts from the shortest backoff again.
      if (now - this.#startedAt > 60_000) this.#recent = [];
      this.#recent.push(now);
      const windowMs = this.options.loopWindowMs ?? 60_000;
      this.#recent = this.#recent.filter((t) => t > now - windowMs);
      const inARow = this.#recent.length;
      const delay = Math.min(
        this.options.maxBackoffMs ?? 30_000,
        (this.options.backoffMs ?? 500) * 2 ** Math.max(0, inARow - 1),
      );
      this.#report(
        `${this.name} (pid ${child.pid}) exited (${signal ? `signal ${signal}` : `code ${code}`}); restart #${this.restarts + 1} in ${delay} ms`,
      );
      if (inARow >= (this.options.loopRestarts ?? 5))
        this.#report(`${this.name} is crash-looping: ${inARow} exits within ${Math.round(windowMs / 1000)} s`);
      this.#timer = setTimeout(() => void this.#restart(), delay);
    });
  }

  async #restart(): Promise<void> {
    if (this.#stopping) return;
    try {
      this.restarts++;
      this.#startedAt = Date.now();
      const child = await startChild(this.spec, { silent: this.options.silent });
      if (this.#stopping) {
        await stopChild(child.process);
        return;
      }
      this.current = child;
      this.#watch(child);
      this.#report(`${this.name} restarted (pid ${child.pid})`);
    } catch (err) {
      // It did not even become ready: that counts as another exit in a row.
      this.#report(`${this.name} failed to start again: ${(err as Error).message.split("\n")[0]}`);
      this.#recent.push(Date.now());
      const delay = Math.min(
        this.options.maxBackoffMs ?? 30_000,
        (this.options.backoffMs ?? 500) * 2 ** this.#recent.length,
      );
      this.#timer = setTimeout(() => void this.#restart(), delay);
    }
  }
}
