import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentMeshFixture, startAgentMesh } from "../../agents/testing/agent-mesh-fixture.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { survivedErrors } from "../../lib/process/survive.ts";
import { type ClosableDecisionEngine, createDecisionEngine } from "./decision-engine.ts";

const logger = createLogger("test", "warn");

/**
 * The catalog that killed the gateway: more active creatives than the kernel's 4,096 (here 4,320). Every decision
 * is made on a retrieval slice, in every coordination mode (the agents rebuild the gateway's slice), and a full
 * scan of that catalog fails one decision with UNAVAILABLE, never the process.
 */
describe("a catalog beyond the kernel's capacity", () => {
  let fixture: AgentMeshFixture;
  const engines: ClosableDecisionEngine[] = [];

  beforeAll(async () => {
    fixture = await startAgentMesh({ logger, kernelVersion: "simd-test", advertisers: 360 });
  }, 120_000);

  afterAll(async () => {
    for (const e of engines) e.close();
    await fixture?.cleanup();
  });

  for (const coordination of ["cached", "parallel", "sequential"] as const) {
    it(`${coordination}: decides on a bounded slice and fills`, async () => {
      expect(fixture.view.inventory.size).toBeGreaterThan(4_096);
      const e = await createDecisionEngine({
        nc: fixture.nats.nc,
        catalogView: fixture.view,
        kernel: fixture.kernel,
        coordination,
        deadlineMs: 5_000,
        logger,
        retrieval: { maxCandidates: 256 },
      });
      engines.push(e);
      await expect
        .poll(async () => (await e.decide(demoRequest(), {})).degradedAgents.length, { timeout: 20_000 })
        .toBe(0);
      const res = await e.decide(demoRequest(), {});
      expect(res.ads.length).toBeGreaterThan(0);
      expect(res.explanation?.summary).toMatch(/ out of 256 candidates /);
      for (const ad of res.ads)
        expect(fixture.view.inventory.byCreativeId(ad.creativeId)?.campaign.id).toBe(ad.campaignId);
    }, 60_000);
  }

  it("without retrieval the decision fails with UNAVAILABLE and the engine keeps serving", async () => {
    const full = await createDecisionEngine({
      nc: fixture.nats.nc,
      catalogView: fixture.view,
      kernel: fixture.kernel,
      coordination: "cached",
      deadlineMs: 5_000,
      logger,
      retrieval: false,
    });
    engines.push(full);
    await expect(full.decide(demoRequest(), {})).rejects.toThrow(/capacity is 4096/);
    const e = engines[0]!;
    expect((await e.decide(demoRequest(), {})).ads.length).toBeGreaterThan(0);
    expect([...survivedErrors().keys()].filter((k) => k.startsWith("uncaught"))).toEqual([]);
  }, 60_000);
});
