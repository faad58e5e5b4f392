import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../config/config.ts";
import { holdPort, portsWithTaken } from "../testing/held-port.ts";
import { until } from "../testing/until.ts";
import { connectNats } from "./connect.ts";
import { natsClientAuth } from "./connect-options.ts";
import { configuredReplicas, ensureStream, openReplicatedBucket, ReplicasError } from "./jetstream-replicas.ts";
import { NatsCluster } from "./nats-cluster.ts";
import { NatsServerProcess } from "./nats-server-process.ts";
import { writeServerAuth } from "./server-auth.ts";

describe("NATS cluster and replicas", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it("CHORUS_REPLICAS - 1 by default, 1-5 accepted, anything else refused naming the variable", () => {
    expect(configuredReplicas({})).toBe(1);
    expect(configuredReplicas({ CHORUS_REPLICAS: "3" })).toBe(3);
    expect(() => configuredReplicas({ CHORUS_REPLICAS: "7" })).toThrow(ConfigError);
    expect(() => configuredReplicas({ CHORUS_REPLICAS: "two" })).toThrow(/CHORUS_REPLICAS/);
  });

  it("one server - replicas 3 are refused at start with what to change", async () => {
    const server = await new NatsServerProcess().start();
    cleanups.push(() => server.stop());
    const nc = await connectNats({ servers: server.url, name: "replicas-check" });
    cleanups.push(() => nc.close());
    await expect(openReplicatedBucket(jetstream(nc), "one_server", {}, 3)).rejects.toThrow(ReplicasError);
    await expect(openReplicatedBucket(jetstream(nc), "one_server", {}, 3)).rejects.toThrow(/CHORUS_REPLICAS=3/);
  });

  it("three servers - stores get 3 replicas (an existing R1 stream is raised at start), and survive the loss of any one server, its stream leader included", async () => {
    const cluster = await NatsCluster.start({ size: 3, storeDir: mkdtempSync(join(tmpdir(), "chorus-cluster-")) });
    cleanups.push(() => cluster.stop());
    expect(cluster.url.split(",")).toHaveLength(3);
    const nc = await connectNats({ servers: cluster.url, name: "replicas-check" });
    cleanups.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, { name: "R_TEST", subjects: ["r.test.>"] }, 1);
    expect((await jsm.streams.info("R_TEST")).config.num_replicas).toBe(1);
    await ensureStream(jsm, { name: "R_TEST", subjects: ["r.test.>"] }, 3);
    expect((await jsm.streams.info("R_TEST")).config.num_replicas).toBe(3);
    // A process started without CHORUS_REPLICAS (a CLI, a runner) never scales a store down.
    await ensureStream(jsm, { name: "R_TEST", subjects: ["r.test.>"] }, 1);
    expect((await jsm.streams.info("R_TEST")).config.num_replicas).toBe(3);

    const kv = await openReplicatedBucket(jetstream(nc), "cluster_test", { history: 1 }, 3);
    expect((await jsm.streams.info("KV_cluster_test")).config.num_replicas).toBe(3);
    await kv.put("k", new TextEncoder().encode("before"));
    const leader = (await jsm.streams.info("KV_cluster_test")).cluster?.leader;
    const index = cluster.nodes.findIndex((n) => n.name === leader);
    expect(index).toBeGreaterThanOrEqual(0);
    await cluster.kill(index);
    // A new stream leader is elected among the two left; writes and reads go on.
    await until(
      async () => {
        try {
          await kv.put("k", new TextEncoder().encode("after"));
          return true;
        } catch {
          return false;
        }
      },
      15_000,
      100,
    );
    expect(new TextDecoder().decode((await kv.get("k"))?.value)).toBe("after");
    await cluster.restart(index);
    await until(
      async () => {
        const info = await jsm.streams.info("KV_cluster_test").catch(() => undefined);
        return (info?.cluster?.replicas ?? []).filter((r) => r.current).length === 2;
      },
      20_000,
      100,
    );
  }, 60_000);

  it("three servers with the generated users - the cluster forms, the operator keeps replicated stores, strangers are refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chorus-cluster-auth-"));
    const auth = writeServerAuth(join(dir, "auth"), [
      { kind: "operator", name: "operator" },
      { kind: "gateway", name: "gateway" },
    ]);
    const operator = natsClientAuth(auth.env("operator"));
    const cluster = await NatsCluster.start({ size: 3, storeDir: dir, configFile: auth.configFile, auth: operator });
    cleanups.push(() => cluster.stop());
    const nc = await connectNats({ servers: cluster.url, name: "cluster-operator", auth: operator });
    cleanups.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, { name: "AUTH_R3", subjects: ["auth.r3.>"] }, 3);
    expect((await jsm.streams.info("AUTH_R3")).config.num_replicas).toBe(3);
    for (const node of cluster.nodes)
      await expect(connect({ servers: `nats://127.0.0.1:${node.clientPort}`, reconnect: false })).rejects.toThrow(
        /authorization/i,
      );
  }, 60_000);

  it("a route port taken before nats-server binds it - the cluster starts again on new ports, from empty stores", async () => {
    const taken = await holdPort();
    cleanups.push(taken.release);
    // Call 2 is the first node's route port: the failure CI met ("Error listening on router port").
    const ports = portsWithTaken(taken.port, 2);
    const cluster = await NatsCluster.start({
      size: 3,
      storeDir: mkdtempSync(join(tmpdir(), "chorus-cluster-retry-")),
      freePort: ports.next,
    });
    cleanups.push(() => cluster.stop());
    expect(ports.calls).toBe(12);
    expect(cluster.nodes.flatMap((n) => [n.clientPort, n.routePort])).not.toContain(taken.port);
    const nc = await connectNats({ servers: cluster.url, name: "cluster-retry" });
    cleanups.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, { name: "RETRY_R3", subjects: ["retry.r3.>"] }, 3);
    expect((await jsm.streams.info("RETRY_R3")).config.num_replicas).toBe(3);
  }, 60_000);
});
