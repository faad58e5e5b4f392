import { createServer } from "node:net";
import { freePort } from "../nats/nats-server-process.ts";

/**
 * A port some other process holds, as a concurrent test can between freePort() and nats-server's bind. It hangs
 * up on whoever connects (routes of other nodes will), so `release()` never waits on them.
 */
export async function holdPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    release: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** freePort() that hands out `taken` at call `at` (1-based), counting its calls. */
export function portsWithTaken(taken: number, at: number) {
  const source = { calls: 0, next: () => (++source.calls === at ? Promise.resolve(taken) : freePort()) };
  return source;
}
