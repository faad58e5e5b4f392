import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { authConnectionOptions, type NatsClientAuth, natsClientAuth } from "./connect-options.ts";
import { freePort, isAddressInUse, NatsServerProcess } from "./nats-server-process.ts";

export interface NatsClusterOptions {
  /** Servers in the cluster (3 or 5 in production; JetStream needs a majority of them up). */
  size: number;
  /** Each server keeps JetStream files in `<storeDir>/<server name>`. */
  storeDir: string;
  /** Cluster name (`--cluster_name`). */
  name?: string;
  inheritLogs?: boolean;
  /** Users and permissions (lib/nats/server-auth.ts), the same on every node. */
  configFile?: string;
  /** How the readiness check connects when the nodes require credentials (an operator identity). */
  auth?: NatsClientAuth;
  /** Each server logs to `<logDir>/<server name>.log` (permission violations are logged there). */
  logDir?: string;
  /** Where the nodes' free ports come from (default freePort(); tests inject a taken one). */
  freePort?: () => Promise<number>;
}

/** One server of the cluster: its client and route ports stay the same across restarts. */
export interface ClusterNode {
  name: string;
  clientPort: number;
  routePort: number;
  server: NatsServerProcess;
}

/**
 * A NATS cluster with JetStream on loopback, one nats-server process per node, fully meshed by routes: what
 * `CHORUS_NATS_CLUSTER=3 npm start` and the cluster chaos run start. Every node keeps its ports and store across
 * `restart(i)`, as a server restarted by systemd would, so it rejoins and catches up its replicas.
 */
export class NatsCluster {
  readonly nodes: ClusterNode[] = [];

  private constructor(readonly options: NatsClusterOptions) {}

  static async start(options: NatsClusterOptions): Promise<NatsCluster> {
    // Ports come from freePort(): free when asked, but another process (a concurrent test) can bind one before
    // nats-server does. A start that fails on that is tried again with new ports, from empty stores.
    for (let attempt = 1; ; attempt++) {
      try {
        return await NatsCluster.startOnce(options);
      } catch (err) {
        if (attempt >= 3 || !isAddressInUse(err)) throw err;
        const name = options.name ?? "chorus";
        for (let i = 0; i < options.size; i++)
          rmSync(join(options.storeDir, `${name}-${i + 1}`), { recursive: true, force: true });
      }
    }
  }

  private static async startOnce(options: NatsClusterOptions): Promise<NatsCluster> {
    const cluster = new NatsCluster(options);
    if (options.logDir) mkdirSync(options.logDir, { recursive: true });
    const name = options.name ?? "chorus";
    for (let i = 0; i < options.size; i++) {
      const nodeName = `${name}-${i + 1}`;
      const port = options.freePort ?? freePort;
      const clientPort = await port();
      const routePort = await port();
      cluster.nodes.push({
        name: nodeName,
        clientPort,
        routePort,
        server: undefined as unknown as NatsServerProcess,
      });
    }
    const routes = cluster.nodes.map((n) => `nats-route://127.0.0.1:${n.routePort}`).join(",");
    for (const node of cluster.nodes) {
      node.server = new NatsServerProcess({
        port: node.clientPort,
        storeDir: join(options.storeDir, node.name),
        inheritLogs: options.inheritLogs,
        configFile: options.configFile,
        logFile: options.logDir ? join(options.logDir, `${node.name}.log`) : undefined,
        args: [
          "--name",
          node.name,
          "--cluster_name",
          name,
          "--cluster",
          `nats://127.0.0.1:${node.routePort}`,
          "--routes",
          routes,
        ],
      });
    }
    try {
      await Promise.all(cluster.nodes.map((n) => n.server.start()));
      await cluster.waitForJetStream();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Every node, comma-separated, as NATS_URL for Chorus processes (lib/nats/connect.ts splits it). */
  get url(): string {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.clientPort}`).join(",");
  }

  /** The servers' log files (with logDir). */
  get logFiles(): string[] {
    return this.options.logDir ? this.nodes.map((n) => join(this.options.logDir!, `${n.name}.log`)) : [];
  }

  get pids(): { name: string; pid: number }[] {
    return this.nodes.flatMap((n) => (n.server.pid ? [{ name: n.name, pid: n.server.pid }] : []));
  }

  /** SIGKILL, no flush: what a crashed machine does. */
  kill(i: number): Promise<void> {
    return this.nodes[i]!.server.kill();
  }

  /** Starts a stopped or killed node again on its ports and store. */
  async restart(i: number): Promise<void> {
    await this.nodes[i]!.server.start();
  }

  /**
   * Resolves once JetStream can place a stream on every node: a meta leader is elected and every server has joined
   * (a probe stream with one replica per node is created and deleted).
   */
  async waitForJetStream(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    const auth = this.options.auth ?? natsClientAuth();
    const nc = await connect({
      servers: this.url.split(","),
      name: "chorus-cluster-check",
      ...authConnectionOptions(auth),
    });
    try {
      for (;;) {
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2_000 });
          const probe = `CHORUS_CLUSTER_PROBE_${process.pid}`;
          await jsm.streams.add({
            name: probe,
            subjects: [`chorus.cluster-probe.${process.pid}`],
            num_replicas: this.nodes.length,
            storage: StorageType.Memory,
          });
          await jsm.streams.delete(probe);
          return;
        } catch (err) {
          if (Date.now() > until) throw new Error(`JetStream not ready on the cluster: ${(err as Error).message}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    } finally {
      await nc.close();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.server?.stop()));
  }
}
