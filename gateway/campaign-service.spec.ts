import { type Client, Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CampaignService, EntityStatus } from "../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../gen/chorus/v1/common_pb.ts";
import { withApiKey } from "./auth/client-key.ts";
import { type GatewayFixture, startGatewayFixture, testCampaign } from "./testing/gateway-fixture.ts";

let fx: GatewayFixture;
let client: Client<typeof CampaignService>;
beforeAll(async () => {
  fx = await startGatewayFixture();
  client = createClient(
    CampaignService,
    createGrpcTransport({ baseUrl: fx.gateway.url, interceptors: [withApiKey(fx.keys.admin)] }),
  );
});
afterAll(() => fx?.cleanup());

describe("gateway CampaignService over gRPC", () => {
  it("campaigns - create, get, list and update round-trip through JetStream KV", async () => {
    const { advertiser } = await client.createAdvertiser({ advertiser: { id: "globex", name: "Globex" } });
    expect(advertiser).toMatchObject({ id: "globex", status: EntityStatus.ACTIVE });
    expect(advertiser!.revision).toBeGreaterThan(0n);

    const { campaign } = await client.createCampaign({ campaign: testCampaign("summer", "globex") });
    expect((await client.getCampaign({ id: "summer" })).campaign).toEqual(campaign);
    // The store itself has it: the handler mapped the request onto the catalog, not onto a copy.
    expect((await fx.store.get("campaign", "summer")).budgetMicros).toBe(50_000_000n);

    const updated = await client.updateCampaign({
      campaign: { ...campaign!, name: "Summer sale", budgetMicros: 80_000_000n },
      expectedRevision: campaign!.revision,
    });
    expect(updated.campaign).toMatchObject({ name: "Summer sale", budgetMicros: 80_000_000n });
    expect(updated.campaign!.revision).toBeGreaterThan(campaign!.revision);

    const { campaigns } = await client.listCampaigns({ parentId: "globex" });
    expect(campaigns.map((c) => [c.id, c.name])).toEqual([["summer", "Summer sale"]]);
  });

  it("campaigns - an update with a stale revision is ABORTED and writes nothing", async () => {
    const { campaign } = await client.createCampaign({ campaign: testCampaign("winter", "acme") });
    const first = await client.updateCampaign({
      campaign: { ...campaign!, name: "Winter A" },
      expectedRevision: campaign!.revision,
    });
    await expect(
      client.updateCampaign({ campaign: { ...campaign!, name: "Winter B" }, expectedRevision: campaign!.revision }),
    ).rejects.toMatchObject({ code: Code.Aborted });
    expect((await client.getCampaign({ id: "winter" })).campaign).toEqual(first.campaign);
  });

  it("campaigns - validation errors name the field; nothing is stored", async () => {
    const bad = { ...testCampaign("broken", "acme"), budgetMicros: 0n, dailyBudgetMicros: 5n };
    await expect(client.createCampaign({ campaign: bad })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringContaining("campaign.budget_micros"),
    });
    await expect(
      client.createCreative({
        creative: { id: "Bad Id", campaignId: "spring", format: AdFormat.AUDIO, durationMs: 500 },
      }),
    ).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringMatching(/creative\.id: .*creative\.duration_ms/s),
    });
    await expect(client.updateCampaign({ campaign: testCampaign("spring", "acme") })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringContaining("expected_revision"),
    });
    expect(await fx.store.find("campaign", "broken")).toBeUndefined();
  });

  it("campaigns - NOT_FOUND, ALREADY_EXISTS, and FAILED_PRECONDITION for a missing parent", async () => {
    await expect(client.getCampaign({ id: "nope" })).rejects.toMatchObject({ code: Code.NotFound });
    await expect(client.createAdvertiser({ advertiser: { id: "acme", name: "Acme again" } })).rejects.toMatchObject({
      code: Code.AlreadyExists,
    });
    await expect(client.createCampaign({ campaign: testCampaign("orphan", "nobody") })).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: expect.stringContaining("campaign.advertiser_id"),
    });
  });

  it("campaigns - list pages by id and hides archived entities unless asked", async () => {
    for (const id of ["p1", "p2", "p3"]) await client.createCampaign({ campaign: testCampaign(id, "acme") });
    await client.archiveCampaign({ id: "p2" });
    const first = await client.listCampaigns({ parentId: "acme", pageSize: 2 });
    const second = await client.listCampaigns({ parentId: "acme", pageSize: 2, pageToken: first.nextPageToken });
    const ids = [...first.campaigns, ...second.campaigns].map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining(["p1", "p3", "spring"]));
    expect(ids).not.toContain("p2");
    expect(new Set(ids).size).toBe(ids.length);
    const all = await client.listCampaigns({ parentId: "acme", includeArchived: true, pageSize: 100 });
    expect(all.campaigns.find((c) => c.id === "p2")?.status).toBe(EntityStatus.ARCHIVED);
    await expect(client.listCampaigns({ pageToken: "%%%" })).rejects.toMatchObject({ code: Code.InvalidArgument });
  });
});
