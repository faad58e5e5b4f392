import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import type { BidResponse } from "iab-openrtb/v26";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreativeSchema } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import type { DecisionEngine } from "../server/ports.ts";
import { type GatewayFixture, startGatewayFixture, testCampaign } from "../testing/gateway-fixture.ts";
import { InventoryPodEngine } from "../testing/inventory-pod-engine.ts";
import { readVast, vastSchemaUnavailable, xsdErrors } from "../testing/vast-check.ts";
import { catalogCreatives } from "../vast/catalog-creatives.ts";

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), "utf8")) as Record<string, unknown>;
const schemaMissing = vastSchemaUnavailable();

/** A gateway whose test engine fills pods from a catalog of 3 audio (15, 30, 20 s) and 2 video (30, 15 s) ads. */
async function openrtbGateway(slowMs = 0): Promise<GatewayFixture> {
  let lookup: ReturnType<typeof catalogCreatives> | undefined;
  let engine: DecisionEngine | undefined;
  const f = await startGatewayFixture({
    creatives: (id) => lookup?.(id),
    engine: {
      decide: async (request, options) => {
        if (slowMs) await new Promise((r) => setTimeout(r, slowMs));
        return engine!.decide(request, options);
      },
    },
  });
  lookup = catalogCreatives(f.view);
  engine = new InventoryPodEngine(f.view);
  await f.store.create("campaign", testCampaign("movie", "acme"));
  for (const [id, durationMs] of [
    ["vid-a", 30_000],
    ["vid-b", 15_000],
  ] as const)
    await f.store.create(
      "creative",
      create(CreativeSchema, {
        id,
        campaignId: "movie",
        name: id,
        format: AdFormat.VIDEO,
        durationMs,
        iabCategory: "IAB1-5",
        mediaUrl: `https://cdn.example.com/${id}.mp4`,
        mimeType: "video/mp4",
        width: 1280,
        height: 720,
        clickUrl: "https://www.acme.example.com/landing",
      }),
    );
  await f.view.waitFor((inventory) => inventory.size === 5);
  return f;
}

describe("POST /openrtb2/auction - OpenRTB 2.6 audio and video", () => {
  let f: GatewayFixture;
  beforeAll(async () => {
    f = await openrtbGateway();
  }, 30_000);
  afterAll(() => f?.cleanup());

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${f.gateway.url}/openrtb2/auction`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${f.keys.decide}`, ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  const bids = async (name: string) => {
    const res = await post(fixture(name));
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get("x-openrtb-version")).toBe("2.6");
    const response = (await res.json()) as BidResponse;
    expect(response.id).toBe(fixture(name).id);
    expect(response.cur).toBe("USD");
    const all = response.seatbid!.flatMap((s) => s.bid);
    for (const bid of all) {
      if (!schemaMissing) expect(xsdErrors(bid.adm!)).toBe("");
      const vast = await readVast(bid.adm!);
      expect(vast.ads).toHaveLength(1);
      expect(vast.ads[0]!.id).toBe(bid.crid);
      expect(bid.burl).toContain("/t/impression/");
      expect(bid.burl).toContain("chorus_et=");
      expect(bid.nurl).toContain("/t/win/");
      expect(bid.burl).toContain(`ap=${"$"}{AUCTION_PRICE}`);
    }
    return all;
  };

  it("bids on the spec's video example (§6.2.4) with a VAST 4.2 adm, at or above the floor", async () => {
    const [bid, ...rest] = await bids("spec-6.2.4-video");
    expect(rest).toEqual([]);
    expect(bid).toMatchObject({
      impid: "1",
      crid: "vid-a",
      cid: "movie",
      adomain: ["acme.example.com"],
      cat: ["IAB1-5"],
      dur: 30,
      mtype: 2,
      protocol: 13,
    });
    expect(bid!.price).toBeGreaterThanOrEqual(0.03);
  });

  it("fills the spec's structured pods (§7.6): one bid per slot, each ad within its slot's duration", async () => {
    const all = await bids("spec-7.6-structured-pods");
    expect(all.map((b) => [b.impid, b.crid, b.dur])).toEqual([
      ["1", "vid-a", 30],
      ["2", "vid-b", 15],
      ["3", "vid-a", 30],
      ["4", "vid-b", 15],
    ]);
    for (const b of all) expect(b.slotinpod).toBeUndefined();
    for (const b of all) expect(b.price).toBeGreaterThanOrEqual(8);
  });

  it("fills the spec's dynamic pod (§7.6) within poddur and maxseq, marking the guaranteed first and last slots", async () => {
    const all = await bids("spec-7.6-dynamic-pod");
    expect(all.map((b) => [b.impid, b.crid, b.slotinpod])).toEqual([
      ["1", "vid-a", 1],
      ["1", "vid-b", -1],
    ]);
    expect(all.reduce((s, b) => s + b.dur!, 0)).toBeLessThanOrEqual(60);
  });

  it("fills the spec's hybrid pod (§7.6): the 15 s first slot and the dynamic rest", async () => {
    const all = await bids("spec-7.6-hybrid-pod");
    expect(all.map((b) => [b.impid, b.crid, b.dur]).sort()).toEqual([
      ["1", "vid-b", 15],
      ["2", "vid-a", 30],
    ]);
  });

  it("bids on a dynamic audio pod: audio/mpeg, mtype 3, mincpmpersec drops the ad too long for its price", async () => {
    const all = await bids("audio-dynamic-pod");
    // The pod decided cr-a (15 s) and cr-b (30 s) at the 1.5 CPM floor: 30 s x 0.1 CPM/s = 3 > 1.5, so no bid for cr-b.
    expect(all.map((b) => [b.impid, b.crid, b.dur, b.mtype, b.price])).toEqual([["1", "cr-a", 15, 3, 1.5]]);
    const vast = await readVast(all[0]!.adm!);
    expect(vast.ads[0]!.adType).toBe("audio");
    expect(vast.ads[0]!.creatives[0]!.mediaFiles[0]!.mimeType).toBe("audio/mpeg");
  });

  it("fills a structured radio break with exact durations (rqddurs)", async () => {
    const all = await bids("audio-structured-pod");
    expect(all.map((b) => [b.impid, b.crid, b.dur]).sort()).toEqual([
      ["slot-first", "cr-b", 30],
      ["slot-last", "cr-a", 15],
    ]);
  });

  it.each([
    ["the spec's simple banner example (§6.2.1)", fixture("spec-6.2.1-simple-banner"), "no audio or video impression"],
    ["a blocked advertiser domain", { ...fixture("spec-6.2.4-video"), badv: ["acme.example.com"] }, "constraints"],
    ["a blocked category", { ...fixture("spec-6.2.4-video"), bcat: ["IAB1"] }, "constraints"],
    ["a currency without a rate", { ...fixture("spec-6.2.4-video"), cur: ["JPY"] }, "none of cur"],
    [
      "MIME types the catalog does not have",
      withVideo(fixture("spec-6.2.4-video"), { mimes: ["video/x-flv"] }),
      "constraints",
    ],
    ["a duration nothing fits", withVideo(fixture("spec-6.2.4-video"), { minduration: 1, maxduration: 2 }), "no fill"],
  ])("answers 204 no bid for %s", async (name, body, reason) => {
    // A fresh id: a repeated BidRequest id is an exchange's retry and gets the first decision back.
    const res = await post({ ...body, id: `no-bid ${name}` });
    expect(res.status).toBe(204);
    expect(res.headers.get("x-chorus-no-bid")).toContain(reason);
  });

  it.each([
    ["{not json", "body: not JSON"],
    [{ imp: [{ id: "1", video: { mimes: ["video/mp4"] } }] }, "id: required"],
    [{ id: "r" }, "imp: required"],
    [{ id: "r", imp: [] }, "imp: must NOT have fewer than 1 items"],
    [{ id: "r", imp: [{ id: "1", video: {} }] }, "imp[0].video.mimes: required"],
    [
      { id: "r", imp: [{ id: "1", video: { mimes: ["video/mp4"], maxduration: "30" } }] },
      "imp[0].video.maxduration: must be integer",
    ],
    [
      { id: "r", imp: [{ id: "1", audio: { mimes: ["audio/mpeg"], slotinpod: 3 } }] },
      "imp[0].audio.slotinpod: must be one of -1, 0, 1, 2",
    ],
    [
      { id: "r", imp: [{ id: "1", audio: { mimes: ["audio/mpeg"], rqddurs: [15], maxduration: 30 } }] },
      "imp[0].audio.rqddurs: not allowed together with minduration or maxduration",
    ],
    [{ id: "r", imp: [{ id: "1", bidfloor: -1, audio: { mimes: ["audio/mpeg"] } }] }, "imp[0].bidfloor: must be >= 0"],
    [{ id: "r", tmax: 0, imp: [{ id: "1", audio: { mimes: ["audio/mpeg"] } }] }, "tmax: must be >= 1"],
    [
      { id: "r", imp: [{ id: "1", audio: { mimes: ["audio/mpeg"] } }], device: { geo: { country: "DE" } } },
      'device.geo.country: must match pattern "^[A-Z]{3}$"',
    ],
    [
      { id: "r", imp: [{ id: "1", audio: { mimes: ["audio/mpeg"] } }], device: { geo: { country: "XYZ" } } },
      'device.geo.country: "XYZ" is not an ISO 3166-1 alpha-3',
    ],
    [
      { id: "r", imp: [{ id: "1", audio: { mimes: ["audio/mpeg"] } }], regs: { gdpr: 2 } },
      "regs.gdpr: must be one of 0, 1",
    ],
    [
      { id: "r", imp: [{ id: "1", audio: { mimes: ["audio/mpeg"] } }], regs: { us_privacy: "yes" } },
      "regs.us_privacy: must match",
    ],
    [
      { id: "r", imp: [{ id: "1", bidfloor: 1, bidfloorcur: "EUR", audio: { mimes: ["audio/mpeg"] } }] },
      "imp[0].bidfloorcur: no exchange rate configured for EUR",
    ],
  ])("refuses a malformed request with 400 naming the field (%#)", async (body, message) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain(message);
  });

  it("applies the API key rules: 401 without a key, 403 for a reader key", async () => {
    const none = await fetch(`${f.gateway.url}/openrtb2/auction`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(fixture("spec-6.2.4-video")),
    });
    expect(none.status).toBe(401);
    expect((await post(fixture("spec-6.2.4-video"), { authorization: `Bearer ${f.keys.reader}` })).status).toBe(403);
  });

  it("answers a repeated BidRequest (an exchange's retry) with the same decision", async () => {
    const body = { ...fixture("spec-6.2.4-video"), id: "retry-1" };
    const first = (await (await post(body)).json()) as BidResponse;
    const again = (await (await post(body)).json()) as BidResponse;
    expect(again.bidid).toBe(first.bidid);
    expect(again.seatbid![0]!.bid[0]!.id).toBe(first.seatbid![0]!.bid[0]!.id);
  });

  it("refuses other content types and methods", async () => {
    expect((await post("{}", { "content-type": "text/plain" })).status).toBe(415);
    expect(
      (await fetch(`${f.gateway.url}/openrtb2/auction`, { headers: { authorization: `Bearer ${f.keys.decide}` } }))
        .status,
    ).toBe(405);
  });
});

describe("POST /openrtb2/auction - tmax", () => {
  let slow: GatewayFixture;
  beforeAll(async () => {
    slow = await openrtbGateway(1_500);
  }, 30_000);
  afterAll(() => slow?.cleanup());

  it("answers no bid within tmax when the decision would be late, and bids when tmax allows it", async () => {
    const post = (tmax: number) =>
      fetch(`${slow.gateway.url}/openrtb2/auction`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${slow.keys.decide}` },
        body: JSON.stringify({ ...fixture("spec-6.2.4-video"), id: `tmax-${tmax}`, tmax }),
      });
    expect((await post(5_000)).status).toBe(200);
    const late = await post(300);
    expect(late.status).toBe(204);
    expect(late.headers.get("x-chorus-no-bid")).toBe("late");
    // The gateway's own time (Server-Timing), not the test client's, which a loaded machine stretches.
    const served = Number(/dur=([\d.]+)/.exec(late.headers.get("server-timing") ?? "")?.[1]);
    expect(served).toBeGreaterThanOrEqual(250);
    expect(served).toBeLessThanOrEqual(300);
  });
});

function withVideo(request: Record<string, unknown>, video: Record<string, unknown>) {
  const imp = (request.imp as Record<string, unknown>[])[0]!;
  return { ...request, imp: [{ ...imp, video: { ...(imp.video as object), ...video } }] };
}
