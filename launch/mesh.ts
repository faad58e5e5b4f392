import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { CatalogStore, openCatalogBucket } from "../lib/catalog/catalog-store.ts";
import { demoCatalog, loadDemoCatalog } from "../lib/demo/demo-catalog.ts";
import { createLogger } from "../lib/log/logger.ts";
import { connectNats, type NatsConnection } from "../lib/nats/connect.ts";
import { type NatsClientAuth, natsClientAuth } from "../lib/nats/connect-options.ts";
import { writeLocalMesh } from "../lib/nats/local-mesh.ts";
import { NatsCluster } from "../lib/nats/nats-cluster.ts";
import { NatsServerProcess } from "../lib/nats/nats-server-process.ts";
import type { Identity } from "../lib/nats/permissions.ts";
import { type ServerAuth, writeServerAuth } from "../lib/nats/server-auth.ts";
import { ensurePseudonymKeyFile } from "../lib/privacy/pseudonym-key.ts";
import type { MemoryReport } from "../lib/process/child-lifecycle.ts";
import { Supervised } from "../lib/process/supervisor.ts";
import type { AgentName } from "../lib/subjects.ts";
import { startRolloutSteward } from "../modules/rollback-requests.ts";
import { bootstrapCredentials, type MeshCredentials } from "./bootstrap-credentials.ts";
import { setUpBus } from "./bus-setup.ts";

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
  /** Load the demo catalog before the agents start (default). */
  demo?: boolean;
  /**
   * Its shape (lib/demo/demo-catalog.ts): e.g. flights that started weeks ago (`nowMs`), so that even pacing has
   * budget left for a long test's steady load instead of the share of one hour.
   */
  demoCatalog?: Parameters<typeof demoCatalog>[0];
  /** Agent hosts: each inner list runs in one process. */
  agentGroups?: string[][];
  env?: Record<string, string>;
  /** More environment for one process, by name (`ledger`, `budget`, `agents-1`, `gateway`): e.g. its METRICS_PORT. */
  processEnv?: Record<string, Record<string, string>>;
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
  /**
   * Where the private server's identities and configuration live (npm start: .data/nats/auth; default: `auth` in
   * the JetStream store). Ignored with natsUrl: an external server brings its own users.
   */
  natsAuthDir?: string;
  /** Also create the `inspector` identity (may do everything; tests that look at the whole bus). */
  inspector?: boolean;
}

export interface Mesh {
  natsUrl: string;
  gatewayUrl: string;
  /** Each Chorus child also answers `memoryUsage()` (heap used, external, RSS; lib/process/child-lifecycle.ts). */
  processes: {
    name: string;
    pid: number;
    memoryUsage?: (timeoutMs?: number, afterGc?: boolean) => Promise<MemoryReport | undefined>;
  }[];
  nats: NatsServerProcess | undefined;
  cluster: NatsCluster | undefined;
  /** The private server's identities (undefined with natsUrl). */
  auth: ServerAuth | undefined;
  /** The private server's log (permission violations are logged there); undefined with natsUrl or a cluster. */
  natsLogFile: string | undefined;
  /**
   * How to connect as one of the mesh's identities (default the operator); with natsUrl, the credentials in this
   * process's environment.
   */
  clientAuth(identity?: string): NatsClientAuth;
  connect(name: string, identity?: string): Promise<NatsConnection>;
  /** The admin and decide keys bootstrapped for this mesh, and the gateways' event token keys. */
  credentials: MeshCredentials;
  /** The gateways' pseudonym key as they get it (CHORUS_PSEUDONYM_KEY_FILE or CHORUS_PSEUDONYM_SALT): the operator's too. */
  pseudonymEnv: Record<string, string>;
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
  const groups = options.agentGroups ?? DEFAULT_AGENT_GROUPS;
  const storeDir =
    options.natsStoreDir ??
    join(tmpdir(), `chorus-${clusterSize > 1 ? "cluster" : "nats"}-${process.pid}-${Date.now()}`);
  // The private server admits only the mesh's identities, each with its own permissions (lib/nats/permissions.ts).
  const auth = options.natsUrl
    ? undefined
    : writeServerAuth(options.natsAuthDir ?? join(storeDir, "auth"), meshIdentities(groups, options.inspector));
  const clientAuth = (identity = "operator") => natsClientAuth(auth ? auth.env(identity) : process.env);
  const natsLogFile = auth && clusterSize <= 1 ? join(storeDir, "nats-server.log") : undefined;
  const cluster =
    clusterSize > 1
      ? await NatsCluster.start({ size: clusterSize, storeDir, configFile: auth?.configFile, auth: clientAuth() })
      : undefined;
  const nats =
    options.natsUrl || cluster
      ? undefined
      : await new NatsServerProcess({ storeDir, configFile: auth?.configFile, logFile: natsLogFile }).start();
  const natsUrl = options.natsUrl ?? cluster?.url ?? nats!.url;
  if (auth) writeLocalMesh(auth.dir, natsUrl);
  const children: Supervised[] = [];
  // The rollout steward: the one writer of module state, applying the automatic rollbacks processes ask for
  // (modules/rollback-requests.ts), as the operator identity.
  const stewardNc = await connectNats({ servers: natsUrl, name: "chorus-rollout-steward", auth: clientAuth() });
  const steward = await startRolloutSteward(
    stewardNc,
    createLogger("rollout-steward", options.silent ? "silent" : undefined),
  );
  const stop = async () => {
    // Ctrl-C reaches every child at once: none may be restarted while the others are being stopped in order.
    for (const child of children) child.beginStop();
    for (const child of [...children].reverse()) await child.stop();
    steward.stop();
    await stewardNc.close();
    await nats?.stop();
    await cluster?.stop();
  };
  // A process's own settings, then its identity (which nothing overrides).
  const identityEnv = (identity: string) => ({
    ...options.processEnv?.[identity],
    ...(auth ? auth.env(identity) : {}),
  });
  try {
    // Every process checks its streams and buckets against this at start (lib/nats/jetstream-replicas.ts).
    const replicas: Record<string, string> = cluster ? { CHORUS_REPLICAS: String(clusterSize) } : {};
    // Only the operator creates and changes streams, buckets and object stores (lib/nats/permissions.ts): all of
    // them are laid out here, as the processes' environment configures them, before any process starts.
    try {
      await setUpBus(stewardNc, { ...process.env, ...replicas, ...options.env });
    } catch (err) {
      // An external server: its users may be the operator's to set up (`chorus bus setup`); the processes check.
      if (!options.natsUrl) throw err;
      console.warn(
        `chorus: could not lay out the streams and buckets on ${options.natsUrl}: ${(err as Error).message}`,
      );
    }
    if (options.demo !== false)
      await loadDemo(natsUrl, clientAuth(), cluster ? clusterSize : undefined, options.demoCatalog);
    const credentials = await bootstrapCredentials(natsUrl, options.credentialsFile, clientAuth());
    const keyEnv: Record<string, string> =
      process.env.CHORUS_PSEUDONYM_KEY_FILE || process.env.CHORUS_PSEUDONYM_SALT || options.env?.CHORUS_PSEUDONYM_SALT
        ? {}
        : { CHORUS_PSEUDONYM_KEY_FILE: ensurePseudonymKeyFile(options.pseudonymKeyFile ?? defaultKeyFile(options)) };
    // The pseudonym key is the gateways' secret alone: an agent holding it could test guessed ids against pseudonyms.
    const env = {
      ...replicas,
      ...options.env,
      CHORUS_PSEUDONYM_KEY_FILE: "",
      CHORUS_PSEUDONYM_SALT: "",
      NATS_URL: natsUrl,
    };
    const gatewayKeyEnv = Object.fromEntries(
      ["CHORUS_PSEUDONYM_KEY_FILE", "CHORUS_PSEUDONYM_SALT"].flatMap((k) => {
        const v = (keyEnv as Record<string, string | undefined>)[k] ?? options.env?.[k] ?? process.env[k];
        return v ? [[k, v]] : [];
      }),
    );
    const readyTimeoutMs = options.readyTimeoutMs;
    const silent = options.silent ?? false;
    children.push(
      await Supervised.start(
        { name: "ledger", entry: "ledger/ledger-main", env: { ...env, ...identityEnv("ledger") }, readyTimeoutMs },
        { silent },
      ),
    );
    // The Budget agent also serves the spend leases, so it runs as its own process.
    children.push(
      await Supervised.start(
        {
          name: "budget",
          entry: "agents/budget/budget-main",
          env: { ...env, ...identityEnv("budget") },
          readyTimeoutMs,
        },
        { silent },
      ),
    );
    const hosts = await Promise.all(
      groups.map((agents, i) =>
        Supervised.start(
          {
            name: `agents-${i + 1}`,
            entry: "agents/host",
            env: { ...env, ...identityEnv(`agents-${i + 1}`), AGENTS: agents.join(",") },
            readyTimeoutMs,
          },
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
          ...gatewayKeyEnv,
          ...identityEnv("gateway"),
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
        // Read through: a restarted child's entry names its new process (the soak and samplers follow it).
        ...children.map((c) => ({
          name: c.name,
          get pid() {
            return c.pid;
          },
          memoryUsage: (timeoutMs?: number, afterGc?: boolean) => c.memoryUsage(timeoutMs, afterGc),
        })),
      ],
      nats,
      cluster,
      auth,
      natsLogFile,
      clientAuth,
      connect: (name, identity) => connectNats({ servers: natsUrl, name, auth: clientAuth(identity) }),
      credentials,
      pseudonymEnv: gatewayKeyEnv,
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

/** One identity per process kind of the mesh; each agent host is its own identity, with its agents' rights. */
export function meshIdentities(groups: string[][], inspector = false): Identity[] {
  return [
    { kind: "operator", name: "operator" },
    { kind: "ledger", name: "ledger" },
    { kind: "budget", name: "budget" },
    ...groups.map((agents, i) => ({ kind: "agents" as const, name: `agents-${i + 1}`, agents: agents as AgentName[] })),
    { kind: "gateway", name: "gateway" },
    ...(inspector ? [{ kind: "inspector" as const, name: "inspector" }] : []),
  ];
}

async function loadDemo(
  natsUrl: string,
  auth: NatsClientAuth,
  replicas?: number,
  shape?: Parameters<typeof demoCatalog>[0],
): Promise<void> {
  const nc = await connectNats({ servers: natsUrl, name: "chorus-demo-loader", auth });
  try {
    await loadDemoCatalog(new CatalogStore(await openCatalogBucket(jetstream(nc), replicas)), demoCatalog(shape));
  } finally {
    await nc.close();
  }
}
