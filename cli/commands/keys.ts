/**
 * `chorus keys create | list | revoke`: API key management through the gateway's ApiKeyService, with an admin key
 * and no NATS access. The admin key comes from CHORUS_ADMIN_KEY (or ./.data/credentials.env, written by npm start),
 * never from the command line, where it would land in shell history and `ps`. A new key's secret is printed once.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { Command } from "commander";
import { withApiKey } from "../../gateway/auth/client-key.ts";
import { type ApiKey, ApiKeyRole, ApiKeyService } from "../../gen/chorus/v1/api_key_pb.ts";
import { formatTable } from "./modules.ts";

interface Connection {
  url: string;
  ca?: string;
}

const ROLES: Record<string, ApiKeyRole> = {
  decide: ApiKeyRole.DECIDE,
  advertiser: ApiKeyRole.ADVERTISER,
  reader: ApiKeyRole.READER,
  admin: ApiKeyRole.ADMIN,
};

function adminKey(): string {
  if (process.env.CHORUS_ADMIN_KEY) return process.env.CHORUS_ADMIN_KEY;
  const file = join(process.env.CHORUS_DATA_DIR ?? ".data", "credentials.env");
  if (existsSync(file)) {
    const m = /^CHORUS_ADMIN_KEY=(.+)$/m.exec(readFileSync(file, "utf8"));
    if (m) return m[1]!.trim();
  }
  throw new Error("set CHORUS_ADMIN_KEY to an admin key (npm start writes one into .data/credentials.env)");
}

/** Runs `fn` with an ApiKeyService client, then closes the HTTP/2 connection (so the command exits). */
async function withClient<T>(
  { url, ca }: Connection,
  fn: (c: ReturnType<typeof createClient<typeof ApiKeyService>>) => Promise<T>,
): Promise<T> {
  const key = adminKey();
  const sessionManager = new Http2SessionManager(url, undefined, ca ? { ca: readFileSync(ca) } : undefined);
  try {
    return await fn(
      createClient(
        ApiKeyService,
        createGrpcTransport({ baseUrl: url, sessionManager, interceptors: [withApiKey(key)] }),
      ),
    );
  } finally {
    sessionManager.abort();
  }
}

const roleName = (role: ApiKeyRole) => ApiKeyRole[role]?.toLowerCase() ?? String(role);
const when = (t: ApiKey["createdAt"]) =>
  t
    ? timestampDate(t)
        .toISOString()
        .replace(/\.\d+Z$/, "Z")
    : "";

function table(keys: readonly ApiKey[]): string[] {
  return formatTable(
    ["ID", "NAME", "ROLE", "ADVERTISER", "RATE/S", "CREATED", "REVOKED"],
    keys.map((k) => [
      k.id,
      k.name,
      roleName(k.role),
      k.advertiserId || "-",
      k.ratePerSecond ? `${k.ratePerSecond} (burst ${k.rateBurst})` : "role default",
      when(k.createdAt),
      when(k.revokedAt) || "-",
    ]),
  );
}

export function register(program: Command): void {
  const keys = program
    .command("keys")
    .description("API keys of the gateway (admin key in CHORUS_ADMIN_KEY): create, list, revoke");
  const common = (command: Command) =>
    command
      .option("--url <url>", "the gateway", process.env.CHORUS_GATEWAY_URL ?? "http://127.0.0.1:8080")
      .option("--ca <file>", "PEM CA certificate to trust for an https gateway");
  common(
    keys
      .command("create")
      .description("create a key; its secret is printed once")
      .requiredOption("--role <role>", `one of ${Object.keys(ROLES).join(", ")}`)
      .requiredOption("--name <name>", "who holds it, e.g. ios-app or acme-agency")
      .option("--advertiser <id>", "advertiser keys: the advertiser it is limited to")
      .option("--rate <perSecond>", "its own rate limit (calls per second); default: its role's", Number)
      .option("--burst <n>", "its own burst; default twice the rate", Number),
  ).action(
    async (o: Connection & { role: string; name: string; advertiser?: string; rate?: number; burst?: number }) => {
      const role = ROLES[o.role];
      if (role === undefined) throw new Error(`--role: "${o.role}" is not one of ${Object.keys(ROLES).join(", ")}`);
      const created = await withClient(o, (c) =>
        c.createApiKey({
          name: o.name,
          role,
          advertiserId: o.advertiser ?? "",
          ratePerSecond: o.rate ?? 0,
          rateBurst: o.burst ?? 0,
        }),
      );
      for (const line of table([created.key!])) console.log(line);
      console.log("");
      console.log(`secret key (shown only now; send it as "authorization: Bearer <key>"):`);
      console.log(created.secretKey);
    },
  );
  common(keys.command("list").description("list keys").option("--all", "include revoked keys")).action(
    async (o: Connection & { all?: boolean }) => {
      const listed = await withClient(o, (c) => c.listApiKeys({ includeRevoked: Boolean(o.all) }));
      for (const line of table(listed.keys)) console.log(line);
    },
  );
  common(keys.command("revoke").description("revoke a key everywhere (within 2 s)").argument("<id>", "key id")).action(
    async (id: string, o: Connection) => {
      const revoked = await withClient(o, (c) => c.revokeApiKey({ id }));
      for (const line of table([revoked.key!])) console.log(line);
    },
  );
}
