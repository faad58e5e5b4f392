import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { CatalogStore, openCatalogBucket } from "../lib/catalog/catalog-store.ts";
import { demoCatalog, loadDemoCatalog } from "../lib/demo/demo-catalog.ts";
import { connectNats } from "../lib/nats/connect.ts";
import { NatsCluster } from "../lib/nats/nats-cluster.ts";
import { NatsServerProcess } from "../lib/nats/nats-server-process.ts";
import { ensurePseudonymKeyFile } from "../lib/privacy/pseudonym-key.ts";
import { Supervised } from "../lib/process/supervisor.ts";
import { bootstrapCredentials, type MeshCredentials } from "./bootstrap-credentials.ts";

export type Coordination = "cached" | "parallel" | "sequential";

export interface MeshOptions {
  coordination?: Coordination;
  /** Use this server instead of starting a private one. */
  natsUrl?: string;
  /** JetStream store of the private server; a temp folder when unset. */
  natsStoreDir?: string;
  /**
   * Start a private cluster of this many nats-servers (3 or 5) instead of one server, with every stream and bucket
   * replicated on all of them (CHORUS_REPLICAS). Ignored with natsUrl.
   */
  natsCluster?: number;
  gatewayPort?: number;
  /** Load the demo catalog before the agents start. */
  demo?: boolean;
  /** Agent hosts: each inner list runs in one process. */
  agentGroups?: string[][];
  env?: Record<string, string>;
  /** Children's output is dropped (benchmarks, tests). */
  silent?: boolean;
  /** How long each process may take to say it is ready (default 30 s; more on a crowded machine). */
  readyTimeoutMs?: number;
  /**
   * The gateways' pseudonym key (lib/privacy): created on first use (0600) and kept, so pseudonyms stay the same
   * across restarts. Default: next to the JetStream store, or a temp file. CHORUS_PSEUDONYM_KEY_FILE or
   * CHORUS_PSEUDONYM_SALT in the environment win.
   */
  pseudonymKeyFile?: string;
  /** Keep the mesh's keys here (npm start: .data/credentials.env), reused while still valid. */
  credentialsFile?: string;
}

export interface Mesh {
  natsUrl: string;
  gatewayUrl: string;
  processes: { name: string; pid: number }[];
  nats: NatsServerProcess | undefined;
  cluster: NatsCluster | undefined;
  /** The admin and decide keys bootstrapped for this mesh, and the gateways' event token keys. */
  credentials: MeshCredentials;
  /** Each restarted with backoff when it exits (lib/process/supervisor.ts); restarts are printed. */
  children: Supervised[];
  stop(): Promise<void>;
}

/** Two agent hosts spare a 2-core machine; every agent can also run alone (agents/host.ts). */
export const DEFAULT_AGENT_GROUPS = [
  ["intent", "relevance", "timing"],
  ["bidding", "creative", "orchestrator"],
];

/**
 * Starts the whole local mesh as separate processes: nats-server (unless natsUrl), the ledger, the Budget agent, the agent hosts and
 * the gateway, each waited for until it says it is ready. `stop()` stops them in reverse order.
 */
export async function startMesh(options: MeshOptions = {}): Promise<Mesh> {
  const clusterSize = options.natsUrl ? 0 : (options.natsCluster ?? 0);
  const cluster =
    clusterSize > 1
      ? await NatsCluster.start({
          size: clusterSize,
          storeDir: options.natsStoreDir ?? join(tmpdir(), `chorus-cluster-${process.pid}-${Date.now()}`),
        })
      : undefined;
  const nats =
    options.natsUrl || cluster ? undefined : await new NatsServerProcess({ storeDir: options.natsStoreDir }).start();
  const natsUrl = options.natsUrl ?? cluster?.url ?? nats!.url;
  const children: Supervised[] = [];
  const stop = async () => {
    for (const child of [...children].reverse()) await child.stop();
    await nats?.stop();
    await cluster?.stop();
  };
  try {
    // Every process checks its streams and buckets against this at start (lib/nats/jetstream-replicas.ts).
    const replicas: Record<string, string> = cluster ? { CHORUS_REPLICAS: String(clusterSize) } : {};
    if (options.demo !== false) await loadDemo(natsUrl, cluster ? clusterSize : undefined);
    const credentials = await bootstrapCredentials(natsUrl, options.credentialsFile);
    const keyEnv: Record<string, string> =
      process.env.CHORUS_PSEUDONYM_KEY_FILE || process.env.CHORUS_PSEUDONYM_SALT || options.env?.CHORUS_PSEUDONYM_SALT
        ? {}
        : { CHORUS_PSEUDONYM_KEY_FILE: ensurePseudonymKeyFile(options.pseudonymKeyFile ?? defaultKeyFile(options)) };
    const env = { ...keyEnv, ...replicas, ...options.env, NATS_URL: natsUrl };
    const readyTimeoutMs = options.readyTimeoutMs;
    const silent = options.silent ?? false;
    children.push(
      await Supervised.start({ name: "ledger", entry: "ledger/ledger-main", env, readyTimeoutMs }, { silent }),
    );
    // The Budget agent also serves the spend leases, so it runs as its own process.
    children.push(
      await Supervised.start({ name: "budget", entry: "agents/budget/budget-main", env, readyTimeoutMs }, { silent }),
    );
    const groups = options.agentGroups ?? DEFAULT_AGENT_GROUPS;
    const hosts = await Promise.all(
      groups.map((agents, i) =>
        Supervised.start(
          { name: `agents-${i + 1}`, entry: "agents/host", env: { ...env, AGENTS: agents.join(",") }, readyTimeoutMs },
          { silent },
        ),
      ),
    );
    children.push(...hosts);
    const gateway = await Supervised.start(
      {
        name: "gateway",
        entry: "gateway/main",
        readyTimeoutMs,
        env: {
          ...env,
          EVENT_TOKEN_KEYS: options.env?.EVENT_TOKEN_KEYS ?? credentials.eventTokenKeys,
          GATEWAY_PORT: String(options.gatewayPort ?? process.env.GATEWAY_PORT ?? 8080),
          ...(options.coordination ? { CHORUS_COORDINATION: options.coordination } : {}),
        },
      },
      { silent },
    );
    children.push(gateway);
    return {
      natsUrl,
      gatewayUrl: String(gateway.current.ready.url),
      processes: [
        ...(nats?.pid ? [{ name: "nats-server", pid: nats.pid }] : []),
        ...(cluster?.pids ?? []),
        ...children.map((c) => ({ name: c.name, pid: c.pid })),
      ],
      nats,
      cluster,
      credentials,
      children,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function defaultKeyFile(options: MeshOptions): string {
  if (options.natsStoreDir) return join(dirname(options.natsStoreDir), "pseudonym.key");
  return join(mkdtempSync(join(tmpdir(), "chorus-mesh-")), "pseudonym.key");
}

async function loadDemo(natsUrl: string, replicas?: number): Promise<void> {
  const nc = await connectNats({ servers: natsUrl, name: "chorus-demo-loader" });
  try {
    await loadDemoCatalog(new CatalogStore(await openCatalogBucket(jetstream(nc), replicas)), demoCatalog());
  } finally {
    await nc.close();
  }
}
