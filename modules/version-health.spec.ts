import { type KV, Kvm } from "@nats-io/kv";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type NatsFixture, startNats } from "../lib/testing/nats-fixture.ts";
import { healthKey, VersionHealth, type VersionRecord } from "./version-health.ts";

describe("version health", () => {
  let nats: NatsFixture;
  let kv: KV;
  beforeAll(async () => {
    nats = await startNats();
    kv = await new Kvm(nats.js).create("spec_version_health");
  });
  afterAll(() => nats.cleanup());

  const stored = async (version: string): Promise<VersionRecord | undefined> => {
    const entry = await kv.get(healthKey("kernel", version));
    return entry?.operation === "PUT" ? (JSON.parse(entry.string()) as VersionRecord) : undefined;
  };

  it("version health - no timer while nothing waits to be merged; one merge a flush period after the first call", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    try {
      const health = new VersionHealth(kv, "kernel", pino({ level: "silent" }), 1_000);
      // An idle process (no module call) is never woken for an empty merge.
      expect(vi.getTimerCount()).toBe(0);
      health.record("v1", false, false, "");
      health.record("v1", true, true, "boom", 1_000);
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(999);
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(1);
      expect(vi.getTimerCount()).toBe(0);
      vi.useRealTimers();
      await health.flush();
      expect(await stored("v1")).toEqual({ calls: 2, failures: 1, hangs: [1_000], lastError: "boom" });
      // Merged: nothing waits, nothing is armed until the next call.
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
      health.record("v1", false, false, "");
      expect(vi.getTimerCount()).toBe(1);
      vi.useRealTimers();
      await health.close();
      expect((await stored("v1"))?.calls).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
