import { describe, expect, it } from "vitest";
import { NatsServerProcess } from "./nats-server-process.ts";
import { MIN_NATS_SERVER, NatsServerVersionError, requireServerVersion } from "./server-version.ts";

describe("nats-server version", () => {
  it("version - servers older than the minimum are refused by name, newer ones pass", () => {
    expect(() => requireServerVersion("2.8.4")).toThrow(NatsServerVersionError);
    expect(() => requireServerVersion("2.8.4")).toThrow(/2\.8\.4 is too old: Chorus needs 2\.9\.0/);
    expect(() => requireServerVersion(undefined)).toThrow(NatsServerVersionError);
    for (const ok of [MIN_NATS_SERVER, "2.9.10", "v2.10.22", "2.11.0-beta.1"])
      expect(() => requireServerVersion(ok)).not.toThrow();
  });

  it("version - the installed binary reports its version and it is recent enough", () => {
    const version = NatsServerProcess.version();
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(() => requireServerVersion(version)).not.toThrow();
  });
});
