import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionService } from "../gen/chorus/v1/decision_pb.ts";
import { withApiKey } from "./auth/client-key.ts";
import { type GatewayFixture, startGatewayFixture } from "./testing/gateway-fixture.ts";
import { decideRequest } from "./testing/sample-requests.ts";

/** GATEWAY_TLS_CERT/KEY: HTTPS on the one port, ALPN h2 and http/1.1, every protocol; a certificate made here. */
let fx: GatewayFixture;
let dir: string;
let ca: Buffer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "chorus-tls-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  ca = readFileSync(join(dir, "cert.pem"));
  fx = await startGatewayFixture({ tls: { cert: ca, key: readFileSync(join(dir, "key.pem")) } });
});
afterAll(async () => {
  await fx?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function alpn(protocols: string[]): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port: fx.gateway.port, ca, ALPNProtocols: protocols }, () => {
      resolve(socket.alpnProtocol ?? false);
      socket.end();
    });
    socket.on("error", reject);
  });
}

describe("gateway over TLS", () => {
  it("offers h2 and http/1.1 by ALPN on the one port", async () => {
    expect(fx.gateway.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await alpn(["h2", "http/1.1"])).toBe("h2");
    expect(await alpn(["http/1.1"])).toBe("http/1.1");
  });

  const transports = {
    "gRPC (h2)": () => createGrpcTransport({ baseUrl: fx.gateway.url, nodeOptions: { ca } }),
    "Connect over h2": () => createConnectTransport({ baseUrl: fx.gateway.url, httpVersion: "2", nodeOptions: { ca } }),
    "Connect JSON over HTTP/1.1": () =>
      createConnectTransport({
        baseUrl: fx.gateway.url,
        httpVersion: "1.1",
        useBinaryFormat: false,
        nodeOptions: { ca },
      }),
    "gRPC-Web over HTTP/1.1": () =>
      createGrpcWebTransport({ baseUrl: fx.gateway.url, httpVersion: "1.1", nodeOptions: { ca } }),
  };
  for (const [name, make] of Object.entries(transports)) {
    it(`${name} - Decide with a key answers; without one UNAUTHENTICATED`, async () => {
      const transport = make();
      const keyed = createClient(DecisionService, transport);
      const response = await keyed.decide(decideRequest(`tls-${name}`), {
        headers: { authorization: `Bearer ${fx.keys.decide}` },
      });
      expect(response.ads.length).toBe(3);
      await expect(keyed.decide(decideRequest("tls-anon"))).rejects.toMatchObject({ code: 16 });
    });
  }

  it("a plaintext client gets no answer on the TLS port", async () => {
    const plain = createClient(
      DecisionService,
      createGrpcTransport({
        baseUrl: fx.gateway.url.replace("https", "http"),
        interceptors: [withApiKey(fx.keys.decide)],
      }),
    );
    await expect(plain.decide(decideRequest("plain"), { timeoutMs: 2_000 })).rejects.toThrow();
  });
});
