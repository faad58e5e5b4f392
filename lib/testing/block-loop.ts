/**
 * Keeps this thread busy for `ms` without yielding: the event loop stalls as in a long collection pause or a
 * CPU-starved turn. For tests of what a late loop does (load shedding, samplers, open-loop senders).
 */
export function blockLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** Resolves in the next timers phase, after the timers already due (a late lag tick) have run. */
export function nextTurn(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}
