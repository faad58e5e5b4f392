import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DemoTraffic } from "../launch/demo-traffic.ts";
import { ensureNatsServer } from "../launch/ensure-nats-server.ts";
import { startMesh } from "../launch/mesh.ts";
import { loadConfig, parsers } from "../lib/config/config.ts";
import { repoRoot } from "../lib/process/launcher.ts";

/** `npm start`: the whole local mesh, the demo catalog and demo traffic, until Ctrl-C. */
const config = loadConfig({
  natsUrl: {
    env: "NATS_URL",
    default: "",
    parse: parsers.string,
    help: "use this NATS server instead of a private one",
  },
  dataDir: {
    env: "CHORUS_DATA_DIR",
    default: join(repoRoot, ".data"),
    parse: parsers.string,
    help: "where the private nats-server keeps JetStream files",
  },
  gatewayPort: {
    env: "GATEWAY_PORT",
    default: 8080,
    parse: parsers.port,
    help: "port of the gateway (Connect, gRPC, gRPC-Web)",
  },
  coordination: {
    env: "CHORUS_COORDINATION",
    default: "cached" as "cached" | "parallel" | "sequential",
    parse: parsers.oneOf("cached", "parallel", "sequential"),
    help: "how the gateway gathers agent votes",
  },
  natsCluster: {
    env: "CHORUS_NATS_CLUSTER",
    default: 0,
    parse: parsers.int(0, 7),
    help: "start a private cluster of this many nats-servers (3 or 5) with every stream replicated on all of them",
  },
  demoRate: {
    env: "DEMO_RATE",
    default: 50,
    parse: parsers.int(0, 100_000),
    help: "demo decisions per second (0 = no demo traffic)",
  },
});

if (!config.natsUrl) ensureNatsServer();
// Module signing keys the mesh trusts: a file in the data dir unless set (empty at first: add release keys from
// `chorus modules keygen` to it; running processes read it again within CHORUS_TRUSTED_KEYS_POLL_MS).
const trustedKeys = process.env.CHORUS_TRUSTED_KEYS || join(config.dataDir, "trusted-keys.pem");
if (!existsSync(trustedKeys)) {
  mkdirSync(dirname(trustedKeys), { recursive: true });
  writeFileSync(
    trustedKeys,
    "# ed25519 public keys trusted to sign WASM modules (chorus modules keygen writes *.pub)\n",
  );
}
process.env.CHORUS_TRUSTED_KEYS = trustedKeys;
process.env.LOG_LEVEL ??= "warn";
// A gateway started again (Ctrl-C and npm start, or a supervisor) keeps its id and so replays its own spool.
process.env.GATEWAY_ID ??= "gateway-1";
process.env.CHORUS_SPOOL_DIR ??= join(config.dataDir, "spool");
console.log("Starting the Chorus mesh ...");
const mesh = await startMesh({
  natsUrl: config.natsUrl || undefined,
  natsStoreDir: join(config.dataDir, config.natsCluster > 1 ? "nats-cluster" : "nats"),
  natsCluster: config.natsCluster,
  gatewayPort: config.gatewayPort,
  coordination: config.coordination,
  demo: true,
  credentialsFile: join(config.dataDir, "credentials.env"),
  // One nkey identity per process kind, each with least-privilege permissions; the CLI finds the operator's here.
  natsAuthDir: join(config.dataDir, "nats", "auth"),
});
// How the CLI finds this mesh without flags (cli/local-mesh.ts).
writeFileSync(
  join(config.dataDir, "mesh.env"),
  `# Written by npm start: the module keys the local mesh trusts (and how many must sign), for the chorus CLI.\n` +
    `CHORUS_TRUSTED_KEYS=${trustedKeys}\n` +
    `CHORUS_MODULE_SIGNATURES_REQUIRED=${process.env.CHORUS_MODULE_SIGNATURES_REQUIRED || "1"}\n`,
);
console.log(
  `NATS:    ${mesh.natsUrl}${
    config.natsUrl
      ? ""
      : mesh.cluster
        ? ` (private cluster of ${config.natsCluster} nats-servers, replicas ${config.natsCluster}, JetStream in ${join(config.dataDir, "nats-cluster")})`
        : ` (private nats-server, JetStream in ${join(config.dataDir, "nats")})`
  }`,
);
if (mesh.auth)
  console.log(
    `NATS identities: one per process kind, permissions on (${mesh.auth.configFile}); chorus uses the operator's`,
  );
console.log(`Gateway: ${mesh.gatewayUrl} (Connect, gRPC and gRPC-Web; coordination ${config.coordination})`);
console.log(`Keys:    admin  ${mesh.credentials.adminKey}`);
console.log(`         decide ${mesh.credentials.decideKey}`);
console.log(
  `         (in ${join(config.dataDir, "credentials.env")}; for the examples: set -a; . ${join(config.dataDir, "credentials.env")}; set +a)`,
);
console.log(`Processes: ${mesh.processes.map((p) => `${p.name}[${p.pid}]`).join(" ")}`);

const traffic =
  config.demoRate > 0
    ? new DemoTraffic(mesh.gatewayUrl, mesh.credentials.decideKey, config.demoRate, (s) =>
        console.log(
          `t=${String(s.second).padStart(4)}s  ${String(s.decisions).padStart(5)} decisions/s  p50 ${s.p50Ms.toFixed(2)} ms  p99 ${s.p99Ms.toFixed(2)} ms  filled ${s.filled}  degraded ${s.degraded}  events ${s.events}  errors ${s.errors}${s.errors ? ` ${JSON.stringify(s.errorCodes)}` : ""}`,
        ),
      )
    : undefined;
if (traffic) {
  console.log(`Demo traffic: ${config.demoRate} decisions/s. Ctrl-C stops everything.`);
  traffic.start();
}

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log("\nStopping ...");
  await traffic?.stop();
  await mesh.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
