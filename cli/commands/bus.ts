/**
 * `chorus bus identities`: the NATS users of a production mesh, one nkey per process kind with the permissions of
 * lib/nats/permissions.ts: a nats-server configuration to include, and one seed file per process (mode 0600) to
 * install on that process's host as NATS_NKEY_SEED_FILE, with NATS_INBOX_PREFIX as printed.
 * `chorus bus setup`: creates every stream, bucket and object store as the operator (only the operator may create or
 * change one; processes check what they find), and brings existing ones to CHORUS_REPLICAS and DECISION_LOG_*.
 */
import type { Command } from "commander";
import { setUpBus } from "../../launch/bus-setup.ts";
import { defaultNatsUrl } from "../../lib/nats/local-mesh.ts";
import type { Identity } from "../../lib/nats/permissions.ts";
import { writeServerAuth } from "../../lib/nats/server-auth.ts";
import { AGENTS, type AgentName } from "../../lib/subjects.ts";
import { withConnection } from "../../telemetry/one-shot-connection.ts";

const DEFAULT_HOSTS = "intent,relevance,timing;bidding,creative,orchestrator";

export function identitiesFor(agentHosts: string, gateways: number): Identity[] {
  const hosts = agentHosts
    .split(";")
    .map((h) =>
      h
        .split(",")
        .map((a) => a.trim())
        .filter(Boolean),
    )
    .filter((h) => h.length > 0);
  for (const agent of hosts.flat())
    if (!(AGENTS as readonly string[]).includes(agent) || agent === "budget")
      throw new Error(
        `--agent-hosts: ${agent} is not an agent a host runs (${AGENTS.filter((a) => a !== "budget").join(", ")})`,
      );
  return [
    { kind: "operator", name: "operator" },
    { kind: "ledger", name: "ledger" },
    { kind: "budget", name: "budget" },
    ...hosts.map((agents, i) => ({ kind: "agents" as const, name: `agents-${i + 1}`, agents: agents as AgentName[] })),
    ...Array.from({ length: gateways }, (_, i) => ({
      kind: "gateway" as const,
      name: gateways === 1 ? "gateway" : `gateway-${i + 1}`,
    })),
  ];
}

export function register(program: Command): void {
  const bus = program.command("bus").description("the NATS side: identities and permissions of every process");
  bus
    .command("identities")
    .description("write nkey users (one per process kind) and their nats-server permissions into a folder")
    .requiredOption("--dir <dir>", "folder for nats-server.conf and the seed files (created 0700; seeds 0600)")
    .option("--agent-hosts <list>", "agents per host process, hosts separated by ';'", DEFAULT_HOSTS)
    .option("--gateways <n>", "gateway identities (one per gateway host)", "1")
    .action((options: { dir: string; agentHosts: string; gateways: string }) => {
      const gateways = Number(options.gateways);
      if (!Number.isInteger(gateways) || gateways < 1 || gateways > 100) throw new Error("--gateways must be 1-100");
      const auth = writeServerAuth(options.dir, identitiesFor(options.agentHosts, gateways));
      console.log(`server: include ${auth.configFile} in nats-server's configuration (authorization block)`);
      for (const a of auth.identities.values())
        console.log(`${a.name.padEnd(12)} NATS_NKEY_SEED_FILE=${a.seedFile} NATS_INBOX_PREFIX=${a.inboxPrefix}`);
      console.log("seeds are secrets: copy each only to the host of the process that uses it (keep mode 0600)");
    });
  bus
    .command("setup")
    .description(
      "create every stream, bucket and object store (operator identity; run before the processes start and after " +
        "an upgrade; applies CHORUS_REPLICAS and DECISION_LOG_*)",
    )
    .option("--nats-url <url>", "NATS server (default: NATS_URL, else the mesh npm start runs here)", defaultNatsUrl())
    .action(async (options: { natsUrl: string }) => {
      const done = await withConnection(options.natsUrl, (nc) => setUpBus(nc));
      for (const store of done) console.log(`ok  ${store}`);
    });
}
