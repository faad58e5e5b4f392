import { afterEach, describe, expect, it } from "vitest";
import { holdPort, portsWithTaken } from "../testing/held-port.ts";
import { connectNats } from "./connect.ts";
import { NatsServerNotInstalledError, NatsServerProcess } from "./nats-server-process.ts";

describe("nats-server process - the embedded default", () => {
  const held: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const release of held.splice(0)) await release();
  });

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

  it("nats-server process - a free port taken before nats-server binds it: started again on another port", async () => {
    const taken = await holdPort();
    held.push(taken.release);
    const ports = portsWithTaken(taken.port, 1);
    const server = await new NatsServerProcess({ freePort: ports.next }).start();
    try {
      expect(server.state).toBe("running");
      expect(ports.calls).toBe(2);
      expect(server.port).not.toBe(taken.port);
      const nc = await connectNats({ servers: server.url, name: "spec" });
      await nc.close();
    } finally {
      await server.stop();
    }
  });

  it("nats-server process - a port the caller chose is never changed: taken, the start fails saying so", async () => {
    const taken = await holdPort();
    held.push(taken.release);
    const err = await new NatsServerProcess({ port: taken.port }).start().catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(/address already in use/i);
  });
});
