import { connect } from "node:http2";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CampaignSchema, CreativeSchema } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import { type GatewayFixture, startGatewayFixture, testCampaign } from "../testing/gateway-fixture.ts";
import { fillMacros, readVast, vastSchemaUnavailable, xsdErrors } from "../testing/vast-check.ts";
import { catalogCreatives } from "./catalog-creatives.ts";

const schemaMissing = vastSchemaUnavailable();
if (schemaMissing) console.warn(`skipping IAB schema checks: ${schemaMissing}`);

const PLAYER_EVENTS = [
  "start",
  "firstQuartile",
  "midpoint",
  "thirdQuartile",
  "complete",
  "skip",
  "pause",
  "resume",
  "mute",
  "unmute",
];

describe("GET /vast/v4 - VAST 4.2 ad pods for players", () => {
  let f: GatewayFixture;
  let creativesOf: ReturnType<typeof catalogCreatives>;
  beforeAll(async () => {
    f = await startGatewayFixture({
      publicUrl: "https://track.chorus.test/ads",
      creatives: (id) => creativesOf(id),
    });
    creativesOf = catalogCreatives(f.view);
    const campaign = create(CampaignSchema, { ...testCampaign("movie", "acme") });
    await f.store.create("campaign", campaign);
    await f.store.create(
      "creative",
      create(CreativeSchema, {
        id: "vid-a",
        campaignId: "movie",
        name: "Trailer & <teaser>",
        format: AdFormat.VIDEO,
        durationMs: 30_000,
        iabCategory: "IAB1-5",
        mediaUrl: "https://cdn.example.com/vid-a.mp4?sig=a&x=1",
        mimeType: "video/mp4",
        width: 1920,
        height: 1080,
        clickUrl: "https://acme.example.com/landing?utm=vast&x=1",
        tracking: { impression: ["https://3p.example.com/imp?a=1&b=2"], start: ["https://3p.example.com/start"] },
      }),
    );
    await f.view.waitFor((inventory) => inventory.size === 4);
  }, 30_000);
  afterAll(() => f?.cleanup());

  const get = (query: string, headers: Record<string, string> = { authorization: `Bearer ${f.keys.decide}` }) =>
    fetch(`${f.gateway.url}/vast/v4?${query}`, { headers });
  const audioPod = "break=mid&max_duration=90&max_ads=3&formats=audio&user=u-1&device=phone&consent=measurement";

  it("answers an audio pod of three ads that passes the IAB XSD and that vast-client reads as a pod", async () => {
    const res = await get(audioPod);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/xml/);
    const xml = await res.text();
    if (!schemaMissing) expect(xsdErrors(xml)).toBe("");
    const decisionId = res.headers.get("x-chorus-decision-id")!;
    expect(decisionId).toMatch(/^test-/);

    const vast = await readVast(xml);
    expect(vast.version).toBe("4.2");
    expect(vast.ads.map((a) => Number(a.sequence))).toEqual([1, 2, 3]);
    const servingIds = new Set(vast.ads.map((a) => a.adServingId));
    expect(servingIds.size).toBe(3);
    for (const ad of vast.ads) {
      expect(ad.adType).toBe("audio");
      expect(ad.adServingId.startsWith(decisionId)).toBe(true);
      expect(ad.system.value).toBe("Chorus");
      expect(ad.title).not.toBe("");
      expect(ad.pricing).toMatchObject({ model: "CPM", currency: "USD" });
      expect(ad.categories[0]).toMatchObject({ value: "IAB2" });
      expect(ad.expires).toBe(600);
      expect(ad.errorURLTemplates[0]).toContain("%5BERRORCODE%5D");
      // Ours first, then the creative's own (third-party) impression URL from the catalog.
      expect(ad.impressionURLTemplates.map((i) => i.url)).toEqual([
        expect.stringMatching(/^https:\/\/track\.chorus\.test\/ads\/t\/impression\//),
        expect.stringMatching(new RegExp(`^https://t\\.example\\.com/i/${ad.id}\\?chorus_et=`)),
      ]);
      const linear = ad.creatives[0]!;
      expect(linear.type).toBe("linear");
      expect(linear.duration).toBeGreaterThan(0);
      expect(linear.mediaFiles).toEqual([
        expect.objectContaining({
          fileURL: `https://cdn.example.com/${ad.id}.mp3`,
          mimeType: "audio/mpeg",
          deliveryType: "progressive",
        }),
      ]);
      for (const event of PLAYER_EVENTS) {
        expect(linear.trackingEvents[event], event).toHaveLength(1);
        expect(linear.trackingEvents[event]![0]).toContain(`/t/${event}/`);
      }
      expect(linear.videoClickTrackingURLTemplates[0]!.url).toContain("/t/click/");
    }
    const durations = vast.ads.map((a) => a.creatives[0]!.duration);
    expect(durations.reduce((s, d) => s + d, 0)).toBeLessThanOrEqual(90);
  });

  it("answers video with its MIME type, size, click-through and third-party tracking, all escaped", async () => {
    const res = await get("break=pre&max_duration=30&formats=video&user=u-2&device=tv&screen_on=1&foreground=1");
    const xml = await res.text();
    if (!schemaMissing) expect(xsdErrors(xml)).toBe("");
    const [ad] = (await readVast(xml)).ads;
    expect(ad).toMatchObject({ adType: "video", title: "Trailer & <teaser>", id: "vid-a" });
    const linear = ad!.creatives[0]!;
    expect(linear.duration).toBe(30);
    expect(linear.mediaFiles[0]).toMatchObject({
      fileURL: "https://cdn.example.com/vid-a.mp4?sig=a&x=1",
      mimeType: "video/mp4",
      width: 1920,
      height: 1080,
    });
    expect(linear.videoClickThroughURLTemplate?.url).toBe("https://acme.example.com/landing?utm=vast&x=1");
    // Third-party URLs carry the ad's event token too (as in a DecideResponse).
    expect(linear.trackingEvents.start!.some((u) => u.startsWith("https://3p.example.com/start?chorus_et="))).toBe(
      true,
    );
    expect(
      ad!.impressionURLTemplates.some((i) => i.url.startsWith("https://3p.example.com/imp?a=1&b=2&chorus_et=")),
    ).toBe(true);
  });

  it("answers an empty, schema-valid VAST when nothing fills, naming the no-fill reason", async () => {
    const res = await get("break=mid&max_duration=2&user=u-3&device=phone");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-chorus-no-fill")).toBe("no_eligible_candidate");
    const xml = await res.text();
    if (!schemaMissing) expect(xsdErrors(xml)).toBe("");
    expect(xml).toContain("<!-- no fill: no_eligible_candidate -->");
    const vast = await readVast(xml);
    expect(vast.ads).toEqual([]);
    expect(vast.errorURLTemplates[0]).toContain("nofill=no_eligible_candidate&");
    expect(vast.errorURLTemplates[0]).toContain("ec=%5BERRORCODE%5D");
  });

  it.each([
    ["max_duration=30&user=u&device=phone", "break: required"],
    ["break=middle&max_duration=30&user=u&device=phone", 'break: "middle" is not one of pre, mid, post'],
    ["break=mid&max_duration=30&max_ads=99&user=u&device=phone", "max_ads: "],
    ["break=mid&max_duration=-1&user=u&device=phone", "max_duration: "],
    ["break=mid&max_duration=30&device=phone", "user: required"],
    ["break=mid&max_duration=30&user=u&device=fridge", "device: "],
    ["break=mid&max_duration=30&user=u&device=phone&country=Germany", "country: "],
    ["break=mid&max_duration=30&user=u&device=phone&formats=banner", "formats: "],
    ["break=mid&max_duration=30&user=u&device=phone&consent=everything", "consent: "],
    ["break=mid&max_duration=30&user=u&device=phone&colour=red", "colour: unknown query parameter"],
    ["break=mid&break=pre&max_duration=30&user=u&device=phone", "break: given 2 times"],
  ])("refuses %s with 400 naming the parameter", async (query, message) => {
    const res = await get(query);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain(message);
  });

  it("asks for a decide (or admin) API key: 401 without one, 403 for a reader key, as Decide does", async () => {
    const none = await get(audioPod, {});
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect((await get(audioPod, { authorization: "Bearer ck.nope.nope" })).status).toBe(401);
    const reader = await get(audioPod, { authorization: `Bearer ${f.keys.reader}` });
    expect(reader.status).toBe(403);
    expect((await get(audioPod, { authorization: `Bearer ${f.keys.admin}` })).status).toBe(200);
  });

  it("serves VAST over HTTP/2 as well (same port)", async () => {
    const session = connect(f.gateway.url);
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({
          ":path": `/vast/v4?${audioPod}`,
          ":method": "GET",
          authorization: `Bearer ${f.keys.decide}`,
        });
        let status = 0;
        let body = "";
        req.on("response", (h) => {
          status = Number(h[":status"]);
        });
        req.setEncoding("utf8");
        req.on("data", (c: string) => {
          body += c;
        });
        req.on("end", () => resolve({ status, body }));
        req.on("error", reject);
        req.end();
      });
      expect(status).toBe(200);
      expect((await readVast(body)).ads).toHaveLength(3);
    } finally {
      session.close();
    }
  });

  it("counts a tracking URL once however often the player fires it; 204, or a GIF for image requests", async () => {
    const xml = await (await get(audioPod.replace("u-1", "u-track"))).text();
    const [ad] = (await readVast(xml)).ads;
    const impression = fillMacros(ad!.impressionURLTemplates[0]!.url).replace(
      "https://track.chorus.test/ads",
      f.gateway.url,
    );
    const first = await fetch(impression);
    expect(first.status).toBe(204);
    expect(first.headers.get("x-chorus-event-status")).toBe("accepted");
    const again = await fetch(impression.replace(/cb=\d+/, "cb=12345678"), { headers: { accept: "image/*" } });
    expect(again.status).toBe(200);
    expect(again.headers.get("content-type")).toBe("image/gif");
    expect(again.headers.get("x-chorus-event-status")).toBe("duplicate");
    expect(
      Buffer.from(await again.arrayBuffer())
        .subarray(0, 6)
        .toString(),
    ).toBe("GIF89a");
    const error = fillMacros(ad!.errorURLTemplates[0]!, 405).replace("https://track.chorus.test/ads", f.gateway.url);
    const errorHit = await fetch(error);
    expect(errorHit.status).toBe(204);
    expect(errorHit.headers.get("x-chorus-event-status")).toBe("noted");
    // The event token is the pixel's credential: without it, or for another ad, nothing counts.
    const forged = impression.replace(/chorus_et=[^&]+/, "chorus_et=k.1.AAAA");
    expect(forged).not.toBe(impression);
    const refused = await fetch(forged.replace("/t/impression/", "/t/start/"));
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("event_token");
    expect((await fetch(impression.replace(/chorus_et=[^&]+&/, ""))).status).toBe(403);
    const otherAd = impression.replace(`/${ad!.id}?`, "/cr-zzz?");
    expect((await fetch(otherAd)).status).toBe(403);
    expect((await fetch(error.replace(/chorus_et=[^&]+/, "chorus_et=x"))).status).toBe(403);
    expect((await fetch(`${f.gateway.url}/t/explode/d/c`)).status).toBe(400);
    expect(await (await fetch(`${f.gateway.url}/t/start/d`)).text()).toContain("path: expected /t/<event>");
    expect((await fetch(impression, { method: "POST" })).status).toBe(405);
  });
});
