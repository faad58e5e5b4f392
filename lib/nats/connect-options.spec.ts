import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUser } from "@nats-io/nkeys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats } from "./connect.ts";
import { NatsCredentialsError, natsClientAuth } from "./connect-options.ts";
import { NatsServerProcess } from "./nats-server-process.ts";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;

describe("NATS client options - credentials and TLS from the environment", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "chorus-connect-options-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses ambiguous or incomplete settings with the variable's name, and reads nothing it is not given", () => {
    expect(natsClientAuth({}).describe).toBe("no credentials");
    expect(natsClientAuth({ NATS_CREDS: "", NATS_USER: " " }).authenticator).toBeUndefined();
    expect(() => natsClientAuth({ NATS_USER: "a", NATS_NKEY_SEED_FILE: "/x" })).toThrow(NatsCredentialsError);
    expect(() => natsClientAuth({ NATS_PASSWORD: "p" })).toThrow(/NATS_PASSWORD needs NATS_USER/);
    expect(() => natsClientAuth({ NATS_NKEY_SEED_FILE: join(dir, "missing.nk") })).toThrow(
      /NATS_NKEY_SEED_FILE .*missing\.nk cannot be read: ENOENT/,
    );
    const notASeed = join(dir, "not-a-seed.nk");
    writeFileSync(notASeed, "hello");
    expect(() => natsClientAuth({ NATS_NKEY_SEED_FILE: notASeed })).toThrow(/does not hold an nkey user seed/);
    expect(() => natsClientAuth({ NATS_TLS_CERT: "/c.pem" })).toThrow(/NATS_TLS_CERT and NATS_TLS_KEY go together/);
    expect(() => natsClientAuth({ NATS_INBOX_PREFIX: "_INBOX.>" })).toThrow(/NATS_INBOX_PREFIX/);
    const seed = join(dir, "user.nk");
    writeFileSync(seed, `${new TextDecoder().decode(createUser().getSeed())}\n`);
    const auth = natsClientAuth({ NATS_NKEY_SEED_FILE: seed, NATS_INBOX_PREFIX: "_INBOX.gw" });
    // What the options say about themselves names the file, never the secret in it.
    expect(auth.describe).toBe(`nkey seed file ${seed}`);
    expect(auth.inboxPrefix).toBe("_INBOX.gw");
  });

  it("connects with NATS_USER and NATS_PASSWORD, and is refused with a wrong password", async () => {
    const server = await new NatsServerProcess({ args: ["--user", "chorus", "--pass", "s3cret-pw"] }).start();
    try {
      const nc = await connectNats({
        servers: server.url,
        name: "user-pass",
        auth: natsClientAuth({ NATS_USER: "chorus", NATS_PASSWORD: "s3cret-pw" }),
      });
      await nc.flush();
      await nc.close();
      const { connect } = await import("@nats-io/transport-node");
      const { authConnectionOptions } = await import("./connect-options.ts");
      await expect(
        connect({
          servers: server.url,
          reconnect: false,
          ...authConnectionOptions(natsClientAuth({ NATS_USER: "chorus", NATS_PASSWORD: "wrong" })),
        }),
      ).rejects.toThrow(/authorization/i);
    } finally {
      await server.stop();
    }
  });

  it.skipIf(!hasOpenssl)(
    "connects over TLS with NATS_TLS_CA and a client certificate the server verifies",
    async () => {
      const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
      ssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=chorus-test-ca",
      );
      const leaf = (name: string, ext: string) => {
        ssl(
          "req",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          `${name}.key`,
          "-out",
          `${name}.csr`,
          "-subj",
          `/CN=${name}`,
        );
        writeFileSync(join(dir, `${name}.ext`), ext);
        ssl(
          "x509",
          "-req",
          "-in",
          `${name}.csr`,
          "-CA",
          "ca.pem",
          "-CAkey",
          "ca.key",
          "-CAcreateserial",
          "-out",
          `${name}.pem`,
          "-days",
          "1",
          "-extfile",
          `${name}.ext`,
        );
      };
      // nats.js names a loopback server "localhost" in the TLS handshake.
      leaf("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
      leaf("client", "extendedKeyUsage=clientAuth\n");
      const at = (f: string) => join(dir, f);
      const server = await new NatsServerProcess({
        args: ["--tlsverify", "--tlscert", at("server.pem"), "--tlskey", at("server.key"), "--tlscacert", at("ca.pem")],
      }).start();
      try {
        const nc = await connectNats({
          servers: server.url,
          name: "tls",
          auth: natsClientAuth({
            NATS_TLS_CA: at("ca.pem"),
            NATS_TLS_CERT: at("client.pem"),
            NATS_TLS_KEY: at("client.key"),
          }),
        });
        expect(nc.info?.tls_required).toBe(true);
        await nc.flush();
        await nc.close();
        // Without the client certificate the server refuses the connection.
        const { connect } = await import("@nats-io/transport-node");
        await expect(
          connect({ servers: server.url, reconnect: false, tls: { caFile: at("ca.pem") } }),
        ).rejects.toThrow();
      } finally {
        await server.stop();
      }
    },
    60_000,
  );
});
