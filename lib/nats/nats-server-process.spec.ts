import { describe, expect, it } from "vitest";
import { connectNats } from "./connect.ts";
import { NatsServerNotInstalledError, NatsServerProcess } from "./nats-server-process.ts";

describe("nats-server process - the embedded default", () => {
  it("nats-server process - starts with JetStream on a free port, serves, and stops cleanly", async () => {
    const server = await new NatsServerProcess().start();
    expect(server.state).toBe("running");
    const nc = await connectNats({ servers: server.url, name: "spec" });
    const { jetstreamManager } = await import("@nats-io/jetstream");
    const info = await (await jetstreamManager(nc)).getAccountInfo();
    expect(info.limits).toBeDefined();
    await nc.close();
    await server.stop();
    expect(server.state).toBe("stopped");
  });

  it("nats-server process - a missing binary names the Debian package and the NATS_URL alternative", async () => {
    const err = await new NatsServerProcess({ binary: "/nonexistent/nats-server" }).start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsServerNotInstalledError);
    expect(String((err as Error).message)).toMatch(/apt-get install -y nats-server.*NATS_URL/s);
  });
});
