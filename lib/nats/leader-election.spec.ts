import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../log/logger.ts";
import { type NatsFixture, startNats } from "../testing/nats-fixture.ts";
import { until } from "../testing/until.ts";
import { connectNats } from "./connect.ts";
import { currentLeader, LeaderElection, openLeaderBucket } from "./leader-election.ts";
import { NatsCluster } from "./nats-cluster.ts";

const logger = createLogger("leader-election-test", "silent");
const TTL = 1_000;

describe("leader election", () => {
  let nats: NatsFixture;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(() => nats.cleanup());

  const candidate = async (instanceId: string, key: string) => {
    const events: string[] = [];
    const election = new LeaderElection({
      kv: await openLeaderBucket(nats.js, TTL),
      key,
      instanceId,
      ttlMs: TTL,
      logger,
      onElected: (epoch) => events.push(`elected ${epoch}`),
      onDeposed: (epoch) => events.push(`deposed ${epoch}`),
    });
    return { election, events };
  };

  it("one leader among three; it resigns: another leads with a larger epoch; a killed leader's key expires and is taken within the TTL", async () => {
    const all = await Promise.all(["a", "b", "c"].map((id) => candidate(id, "role-1")));
    for (const c of all) c.election.start();
    await until(() => all.some((c) => c.election.isLeader()));
    await new Promise((r) => setTimeout(r, 2 * TTL));
    expect(all.filter((c) => c.election.isLeader())).toHaveLength(1);
    const first = all.find((c) => c.election.isLeader())!;
    const firstEpoch = first.election.epoch;
    expect((await currentLeader(await openLeaderBucket(nats.js, TTL), "role-1"))?.revision).toBeGreaterThanOrEqual(
      firstEpoch,
    );

    await first.election.resign();
    expect(first.events).toEqual([`elected ${firstEpoch}`, `deposed ${firstEpoch}`]);
    const rest = all.filter((c) => c !== first);
    await until(() => rest.some((c) => c.election.isLeader()), 2_000);
    const second = rest.find((c) => c.election.isLeader())!;
    expect(second.election.epoch).toBeGreaterThan(firstEpoch);

    // A leader that stops renewing (its process frozen or dead) without resigning: the key expires.
    const frozenAt = Date.now();
    (second.election as unknown as { stopped: boolean }).stopped = true;
    const third = rest.find((c) => c !== second)!;
    await until(() => third.election.isLeader(), 3 * TTL);
    expect(Date.now() - frozenAt).toBeLessThan(TTL + TTL);
    // The frozen one deposed itself by its own clock before the key could expire.
    expect(second.election.isLeader()).toBe(false);
    expect(third.election.epoch).toBeGreaterThan(second.election.epoch || firstEpoch);
    await third.election.resign();
  });

  it("a leader whose key is overwritten (another writer won) is deposed at its next renewal", async () => {
    const c = await candidate("x", "role-2");
    c.election.start();
    await until(() => c.election.isLeader());
    const kv = await openLeaderBucket(nats.js, TTL);
    await kv.put("role-2", new TextEncoder().encode(JSON.stringify({ instance: "intruder", pid: 0 })));
    await until(() => !c.election.isLeader(), TTL);
    expect(c.events.at(-1)).toMatch(/^deposed/);
    await c.election.resign();
  });
});

describe("leader election on a three-server cluster", () => {
  it("writes to the election stream fail (no JetStream quorum): candidates log it, ask the stream leader to step down, keep campaigning, and end with exactly one leader", async () => {
    const cluster = await NatsCluster.start({ size: 3, storeDir: mkdtempSync(join(tmpdir(), "chorus-election-")) });
    const lines: { msg: string; role?: string; answer?: string }[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const candidates: LeaderElection[] = [];
    const connections = [];
    try {
      for (const id of ["a", "b"]) {
        const nc = await connectNats({ servers: cluster.url, name: `election-${id}` });
        connections.push(nc);
        // A short JetStream timeout, as with a TTL of one second a write that waits 5 s is worthless anyway.
        const kv = await openLeaderBucket(jetstream(nc, { timeout: 1_000 }), TTL, 3);
        candidates.push(
          new LeaderElection({
            kv,
            key: "role-c",
            instanceId: id,
            ttlMs: TTL,
            logger: log,
            nc,
            stallMs: 2_000,
            onElected: () => undefined,
            onDeposed: () => undefined,
          }).start(),
        );
      }
      await until(() => candidates.some((c) => c.isLeader()), 10_000);

      // Two of three servers down: the stream has no quorum, every create and renewal fails (not "held").
      await cluster.kill(1);
      await cluster.kill(2);
      await until(() => !candidates.some((c) => c.isLeader()), 5_000);
      await until(() => lines.some((l) => /asked its leader to step down/.test(l.msg)), 20_000).catch(() => undefined);
      expect(lines.some((l) => /campaign failed|not renewed/.test(l.msg))).toBe(true);
      expect(lines.some((l) => /asked its leader to step down/.test(l.msg))).toBe(true);

      await Promise.all([cluster.restart(1), cluster.restart(2)]);
      const back = Date.now();
      await until(() => candidates.some((c) => c.isLeader()), 60_000);
      const recoveredMs = Date.now() - back;
      await new Promise((r) => setTimeout(r, 2 * TTL));
      expect(candidates.filter((c) => c.isLeader())).toHaveLength(1);
      const leader = candidates.find((c) => c.isLeader())!;
      const kv = await openLeaderBucket(jetstream(connections[0]!), TTL, 3);
      expect((await currentLeader(kv, "role-c"))?.instance).toBe(leader === candidates[0] ? "a" : "b");
      expect(recoveredMs).toBeLessThan(60_000);
    } finally {
      for (const c of candidates) await c.resign();
      for (const nc of connections) await nc.close();
      await cluster.stop();
    }
  }, 150_000);
});
