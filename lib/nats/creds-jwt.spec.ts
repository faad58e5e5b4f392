/**
 * NATS_CREDS against a real nats-server in operator (JWT) mode, the decentralised setup production NATS deployments
 * use: an operator, an account with JetStream and the system account, all signed here with @nats-io/jwt (nsc is not
 * installed), each user's permissions taken from lib/nats/permissions.ts. A Chorus process (the `chorus` CLI) connects
 * with a .creds file alone, and the server enforces the permissions written into the user's JWT.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from "@nats-io/jwt";
import { createAccount, createOperator, createUser } from "@nats-io/nkeys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buckets } from "../subjects.ts";
import { connectNats } from "./connect.ts";
import { natsClientAuth } from "./connect-options.ts";
import { NatsServerProcess } from "./nats-server-process.ts";
import { type Identity, inboxPrefix, permissionsFor, RESPONSE_WINDOW_MS } from "./permissions.ts";

describe("NATS_CREDS - a Chorus process connects to an operator-mode server with a JWT creds file", () => {
  let dir: string;
  let server: NatsServerProcess;
  const creds: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "chorus-creds-"));
    const operator = createOperator();
    const account = createAccount();
    const system = createAccount();
    const operatorJwt = await encodeOperator("chorus-operator", operator, { system_account: system.getPublicKey() });
    // An account JWT's limits default to none allowed: connections, subscriptions and JetStream are opened here.
    const unlimited = {
      conn: -1,
      subs: -1,
      data: -1,
      payload: -1,
      imports: -1,
      exports: -1,
      leaf: -1,
      wildcards: true,
      mem_storage: -1,
      disk_storage: -1,
      streams: -1,
      consumer: -1,
    };
    const accountJwt = await encodeAccount("CHORUS", account, { limits: unlimited }, { signer: operator });
    const systemJwt = await encodeAccount("SYS", system, {}, { signer: operator });
    // One user per identity, its permissions those npm start's generated configuration gives it.
    const identities: Identity[] = [
      { kind: "operator", name: "operator" },
      { kind: "gateway", name: "gateway" },
    ];
    for (const identity of identities) {
      const p = permissionsFor(identity);
      const user = createUser();
      const jwt = await encodeUser(identity.name, user, account, {
        pub: { allow: p.publish },
        sub: { allow: p.subscribe },
        // ttl in nanoseconds, as the server's duration (0 would mean its default of 2 minutes: see RESPONSE_WINDOW_MS).
        ...(p.allowResponses ? { resp: { max: p.maxResponses ?? 1, ttl: RESPONSE_WINDOW_MS * 1e6 } } : {}),
      });
      creds[identity.name] = join(dir, `${identity.name}.creds`);
      writeFileSync(creds[identity.name]!, fmtCreds(jwt, user), { mode: 0o600 });
    }
    const config = join(dir, "operator-mode.conf");
    writeFileSync(
      config,
      [
        `operator: ${operatorJwt}`,
        `system_account: ${system.getPublicKey()}`,
        "resolver: MEMORY",
        // A user JWT carries its permissions in the CONNECT line: the gateway's is ~7.5 KB, past the 4 KB default.
        "max_control_line: 32KB",
        "resolver_preload: {",
        `  ${account.getPublicKey()}: ${accountJwt}`,
        `  ${system.getPublicKey()}: ${systemJwt}`,
        "}",
      ].join("\n"),
      { mode: 0o600 },
    );
    server = await new NatsServerProcess({
      storeDir: join(dir, "js"),
      configFile: config,
      logFile: join(dir, "server.log"),
    }).start();
  }, 30_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("connects with NATS_CREDS; refused without credentials", async () => {
    const auth = natsClientAuth({ NATS_CREDS: creds.operator, NATS_INBOX_PREFIX: inboxPrefix("operator") });
    expect(auth.describe).toMatch(/creds/);
    const nc = await connectNats({ servers: server.url, name: "creds-operator", auth });
    // JetStream works in the account the JWT names (the operator creates a bucket).
    const { Kvm } = await import("@nats-io/kv");
    const kv = await new Kvm(jetstream(nc)).create(buckets.moduleState);
    expect(await kv.put("state.kernel", new Uint8Array([1]))).toBeGreaterThan(0);
    await nc.close();
    const { connect } = await import("@nats-io/transport-node");
    await expect(connect({ servers: server.url, reconnect: false })).rejects.toThrow(/authorization/i);
  });

  it("enforces the permissions in the user's JWT: the gateway may not write module state", async () => {
    const nc = await connectNats({
      servers: server.url,
      name: "creds-gateway",
      auth: natsClientAuth({ NATS_CREDS: creds.gateway, NATS_INBOX_PREFIX: inboxPrefix("gateway") }),
    });
    try {
      await expect(
        jetstream(nc).publish(`$KV.${buckets.moduleState}.state.kernel`, new Uint8Array([2]), { timeout: 2_000 }),
      ).rejects.toThrow(/permission|timeout/i);
      // Its own grants work: reading the bucket's stream info.
      const { jetstreamManager } = await import("@nats-io/jetstream");
      expect((await (await jetstreamManager(nc)).streams.info(`KV_${buckets.moduleState}`)).state.messages).toBe(1);
    } finally {
      await nc.close();
    }
  });

  it("the chorus CLI runs with NATS_CREDS and NATS_URL only", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "cli/chorus.ts", "modules", "list", "--nats-url", server.url],
      {
        env: {
          ...process.env,
          NATS_CREDS: creds.operator,
          NATS_INBOX_PREFIX: inboxPrefix("operator"),
          NATS_NKEY_SEED_FILE: "",
          NATS_URL: server.url,
          CHORUS_DATA_DIR: join(dir, "no-local-mesh"),
        },
      },
    );
    expect(stdout).toMatch(/MODULE|no module/i);
  }, 60_000);
});
