import { readFileSync } from "node:fs";
import type { BidResponse } from "iab-openrtb/v26";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fillMacros, readVast, vastSchemaUnavailable, xsdErrors } from "../../gateway/testing/vast-check.ts";
import type { Mesh } from "../../launch/mesh.ts";
import { queryLedger } from "../../ledger/ledger.ts";
import { permissionViolations } from "../../lib/nats/server-log.ts";
import { startMeshOnFreePorts } from "./free-port-mesh.ts";

const schemaMissing = vastSchemaUnavailable();
const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../gateway/openrtb/fixtures/${name}.json`, import.meta.url), "utf8")) as Record<
    string,
    unknown
  >;

/** The industry protocols against the whole mesh: the real engine, leases, receipts and the exactly-once ledger. */
describe("mesh - VAST, tracking and OpenRTB against the real decision engine and ledger", () => {
  let mesh: Mesh;
  const authorization = () => ({ authorization: `Bearer ${mesh.credentials.decideKey}` });
  beforeAll(async () => {
    mesh = await startMeshOnFreePorts(async (port) => ({ gatewayPort: await port(), silent: true, demo: true }));
  }, 90_000);
  afterAll(() => mesh?.stop(), 30_000);

  const spendOf = async (campaignId: string) => {
    const nc = await mesh.connect("e2e-protocols");
    try {
      return (await queryLedger(nc, campaignId)).campaigns.find((c) => c.campaignId === campaignId)?.spendMicros ?? 0n;
    } finally {
      await nc.close();
    }
  };

  it("a VAST pod's impression pixel, fired three times, charges its campaign once at the decided price", async () => {
    let xml = "";
    for (let i = 0; i < 20 && !xml.includes("<Ad "); i++) {
      const res = await fetch(
        `${mesh.gatewayUrl}/vast/v4?break=mid&max_duration=60&max_ads=2&formats=audio&user=e2e-vast-${i}` +
          "&device=phone&consent=personalized,measurement&country=DE&content_kind=music&genre=rock" +
          "&position=190&content_duration=200&force_now=1",
        { headers: authorization() },
      );
      expect(res.status).toBe(200);
      xml = await res.text();
      if (!schemaMissing) expect(xsdErrors(xml)).toBe("");
    }
    const vast = await readVast(xml);
    expect(vast.ads.length).toBeGreaterThan(0);
    const ad = vast.ads[0]!;
    const campaignId = ad.extensions[0]!.children.find((c) => c.name === "CampaignId")!.value as string;
    const price = BigInt(Math.round(Number(ad.pricing!.value) * 1000)); // CPM -> micros per impression
    const before = await spendOf(campaignId);
    const pixel = fillMacros(ad.impressionURLTemplates[0]!.url);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(pixel)).headers.get("x-chorus-event-status"));
    expect(statuses).toEqual(["accepted", "duplicate", "duplicate"]);
    const start = await fetch(fillMacros(ad.creatives[0]!.trackingEvents.start![0]!));
    expect(start.status).toBe(204);
    let spend = before;
    for (let i = 0; i < 50 && spend !== before + price; i++) {
      await new Promise((r) => setTimeout(r, 100));
      spend = await spendOf(campaignId);
    }
    expect(spend - before).toBe(price);
  });

  it("a tracking URL without an event token is refused and charges nothing", async () => {
    const res = await fetch(`${mesh.gatewayUrl}/t/impression/no-such-decision/cr-0-0-0?ts=x`);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("event_token");
  });

  it("answers the spec's video example and a dynamic audio pod with bids from the demo campaigns, or 204", async () => {
    let bidding = 0;
    for (const name of ["spec-6.2.4-video", "audio-dynamic-pod"]) {
      const res = await fetch(`${mesh.gatewayUrl}/openrtb2/auction`, {
        method: "POST",
        headers: { "content-type": "application/json", ...authorization() },
        body: JSON.stringify({ ...fixture(name), tmax: 2_000 }),
      });
      expect([200, 204]).toContain(res.status);
      if (res.status === 204) continue;
      const response = (await res.json()) as BidResponse;
      const bids = response.seatbid!.flatMap((s) => s.bid);
      expect(bids.length).toBeGreaterThan(0);
      bidding++;
      for (const bid of bids) {
        expect(bid.crid).toMatch(/^cr-\d+-\d+-\d+$/);
        expect(bid.adomain![0]).toMatch(/^advertiser-\d+\.example$/);
        if (!schemaMissing) expect(xsdErrors(bid.adm!)).toBe("");
      }
    }
    expect(bidding, "the demo campaigns bid on at least one of the two").toBeGreaterThan(0);
  });
  it("ran with NATS permissions on: no process was refused anything", () => {
    expect(mesh.auth, "the mesh's private server requires credentials").toBeDefined();
    expect(permissionViolations(mesh.natsLogFile)).toEqual([]);
  });
});
