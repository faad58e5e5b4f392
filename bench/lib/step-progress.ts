import cliProgress from "cli-progress";

/**
 * One progress bar for a whole benchmark run (cli-progress): the bar counts seconds of load; the label says what
 * is running. Goes to stderr so stdout keeps only the tables.
 */
export class StepProgress {
  private readonly bar = new cliProgress.SingleBar(
    {
      format: "{bar} {percentage}% | {label} | sent {issued} done {completed} err {errors}",
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 20,
      // Logs and CI have no TTY: print the bar every 5 s there instead of never.
      noTTYOutput: true,
      notTTYSchedule: 5_000,
    },
    cliProgress.Presets.shades_classic,
  );
  private doneMs = 0;

  constructor(totalMs: number) {
    this.bar.start(Math.max(1, Math.round(totalMs / 1000)), 0, {
      label: "starting",
      issued: 0,
      completed: 0,
      errors: 0,
    });
  }

  /** Grows the expected total when a run adds steps (e.g. a rate search that keeps going). */
  expectMore(ms: number): void {
    this.bar.setTotal(this.bar.getTotal() + Math.round(ms / 1000));
  }

  label(label: string): void {
    this.bar.update({ label });
  }

  update(stepElapsedMs: number, counts: { issued: number; completed: number; errors: number }): void {
    this.bar.update(Math.round((this.doneMs + stepElapsedMs) / 1000), counts);
  }

  stepDone(stepMs: number): void {
    this.doneMs += stepMs;
    this.bar.update(Math.round(this.doneMs / 1000));
  }

  stop(): void {
    this.bar.stop();
  }
}
