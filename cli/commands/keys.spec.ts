import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withApiKey } from "../../gateway/auth/client-key.ts";
import { type GatewayFixture, startGatewayFixture } from "../../gateway/testing/gateway-fixture.ts";
import { decideRequest } from "../../gateway/testing/sample-requests.ts";
import { DecisionService } from "../../gen/chorus/v1/decision_pb.ts";

/** `chorus keys` as a user runs it: the real CLI process against a real gateway, admin key from the environment. */
let fx: GatewayFixture;
beforeAll(async () => {
  fx = await startGatewayFixture();
});
afterAll(() => fx?.cleanup());

const chorus = (args: string[], key = fx.keys.admin) =>
  promisify(execFile)(
    process.execPath,
    ["--import", "tsx", "cli/chorus.ts", "keys", ...args, "--url", fx.gateway.url],
    {
      env: { ...process.env, CHORUS_ADMIN_KEY: key, CHORUS_DATA_DIR: "/nonexistent" },
    },
  ).then(
    ({ stdout }) => ({ out: stdout, err: "" }),
    (e: { stdout: string; stderr: string }) => ({ out: e.stdout, err: e.stderr }),
  );

describe("chorus keys", () => {
  // Each CLI run is a fresh node process (seconds on a loaded machine): generous timeouts.
  it("create prints a table and the secret once; the key works; list shows it without the secret; revoke stops it", {
    timeout: 300_000,
  }, async () => {
    const created = await chorus(["create", "--role", "advertiser", "--advertiser", "acme", "--name", "acme-agency"]);
    expect(created.err).toBe("");
    expect(created.out).toMatch(/ID\s+NAME\s+ROLE\s+ADVERTISER/);
    expect(created.out).toMatch(/acme-agency\s+advertiser\s+acme/);
    const secret = /^(ck\.[0-9a-f]{16}\.[A-Za-z0-9_-]{43})$/m.exec(created.out)![1]!;
    const id = secret.split(".")[1]!;

    const listed = await chorus(["list"]);
    expect(listed.out).toContain(id);
    expect(listed.out).not.toContain(secret.split(".")[2]);

    const decide = await chorus(["create", "--role", "decide", "--name", "web-player"]);
    const playerKey = /^(ck\..+)$/m.exec(decide.out)![1]!;
    const player = createClient(
      DecisionService,
      createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(playerKey)] }),
    );
    await fx.trust.apiKeys.directory.waitFor(playerKey.split(".")[1]!, (r) => r !== undefined);
    expect((await player.decide(decideRequest("cli-1"))).ads.length).toBe(3);
    const revoked = await chorus(["revoke", playerKey.split(".")[1]!]);
    expect(revoked.out).toMatch(/web-player\s+decide\s+-\s+role default\s+\S+\s+\d{4}-/);
    await fx.trust.apiKeys.directory.waitFor(playerKey.split(".")[1]!, (r) => Boolean(r?.revokedAt));
    await expect(player.decide(decideRequest("cli-2"))).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect((await chorus(["list"])).out).not.toContain("web-player");
    expect((await chorus(["list", "--all"])).out).toContain("web-player");
  });

  it("refuses without an admin key and names bad input", { timeout: 180_000 }, async () => {
    expect((await chorus(["list"], fx.keys.decide)).err).toMatch(/permission_denied/);
    expect((await chorus(["create", "--role", "boss", "--name", "x"])).err).toMatch(/--role: "boss"/);
    expect((await chorus(["create", "--role", "advertiser", "--name", "x"])).err).toMatch(/advertiser_id/);
  });
});
