/**
 * Polls `check` every `intervalMs` until it holds; fails after `timeoutMs`. For tests that wait on another
 * process or the bus (a lease granted, a leader elected): a fixed sleep would be either slow or flaky.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  intervalMs = 20,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
