import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../log/logger.ts";
import { connectNats } from "./connect.ts";
import { openReplicatedBucket } from "./jetstream-replicas.ts";
import { NatsCluster } from "./nats-cluster.ts";
import { NatsServerProcess } from "./nats-server-process.ts";
import { isTransientNatsError, retryTransient } from "./transient-retry.ts";

describe("start-up JetStream steps retry while the cluster is not ready", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it("a bucket opened while two of three servers are down waits for them instead of failing; a real refusal is not retried", async () => {
    const cluster = await NatsCluster.start({ size: 3, storeDir: mkdtempSync(join(tmpdir(), "chorus-retry-")) });
    cleanups.push(() => cluster.stop());
    const nc = await connectNats({ servers: cluster.url, name: "retry-check" });
    cleanups.push(() => nc.close());
    // No JetStream quorum: what a process meets on a cluster still starting (or losing servers).
    await cluster.kill(1);
    await cluster.kill(2);
    const js = jetstream(nc, { timeout: 1_000 });

    // Without the retry the open fails at once (the old behaviour: the process exited).
    const bare = await jetstream(nc, { timeout: 1_000 })
      .jetstreamManager()
      .then((jsm) => jsm.streams.add({ name: "KV_no_quorum", subjects: ["$KV.no_quorum.>"], num_replicas: 3 }))
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(isTransientNatsError(bare)).toBe(true);

    const restarted = (async () => {
      await new Promise((r) => setTimeout(r, 3_000));
      await Promise.all([cluster.restart(1), cluster.restart(2)]);
    })();
    const startedAt = Date.now();
    // openReplicatedBucket retries by itself (lib/nats/jetstream-replicas.ts): what every process opens at start.
    const kv = await openReplicatedBucket(js, "retry_test", {}, 3);
    await restarted;
    expect(Date.now() - startedAt).toBeGreaterThan(2_500);
    // The bucket's own stream may still be electing its leader right after the servers came back.
    await retryTransient("put", () => kv.put("k", new TextEncoder().encode("v")), { maxMs: 30_000 });
    expect(new TextDecoder().decode((await kv.get("k"))?.value)).toBe("v");

    // A refusal that waiting cannot mend (subjects another stream already has) is thrown at the first attempt.
    let attempts = 0;
    await expect(
      retryTransient("bad stream", async () => {
        attempts++;
        const jsm = await js.jetstreamManager();
        return jsm.streams.add({ name: "OVERLAP", subjects: ["$KV.retry_test.>"], num_replicas: 3 });
      }),
    ).rejects.toThrow(/overlap/);
    expect(attempts).toBe(1);
  }, 120_000);

  it("gives up after maxMs, with the last transient error", async () => {
    const server = await new NatsServerProcess().start();
    const nc = await connectNats({ servers: server.url, name: "retry-giveup" });
    await server.stop();
    let attempts = 0;
    const started = Date.now();
    await expect(
      retryTransient(
        "request to a stopped server",
        async () => {
          attempts++;
          return nc.request("nobody.home", undefined, { timeout: 200 });
        },
        { maxMs: 1_500, firstDelayMs: 100, logger: createLogger("retry-test", "silent") },
      ),
    ).rejects.toThrow(/timeout/i);
    expect(attempts).toBeGreaterThan(2);
    expect(Date.now() - started).toBeLessThan(5_000);
    await nc.close();
  }, 30_000);
});
