import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { VetoReason } from "../../gen/chorus/v1/agent_pb.ts";
import { AdvertiserSchema, CreativeSchema } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat, AgeBracket } from "../../gen/chorus/v1/common_pb.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import { checkCreative, formatsForDevice } from "./creative-policy.ts";

const good = create(CreativeSchema, {
  id: "cr",
  format: AdFormat.VIDEO,
  durationMs: 15_000,
  iabCategory: "IAB2-3",
  mediaUrl: "https://cdn.example/a.mp4",
  mimeType: "video/mp4",
  width: 1280,
  height: 720,
});
const blocked = new Set(["IAB25", "IAB26"]);

describe("creative - format and policy, each rejection with its reason", () => {
  const req = demoRequest();
  const check = (creative = good, request = req, advertiser?: ReturnType<typeof create<typeof AdvertiserSchema>>) =>
    checkCreative(creative, advertiser, request, blocked, formatsForDevice(request));

  it("formats follow the device and moment", () => {
    expect([...formatsForDevice(req)].sort()).toEqual([1, 2, 3, 4]);
    const background = demoRequest({ device: { ...req.device!, foreground: false } });
    expect([...formatsForDevice(background)]).toEqual([AdFormat.AUDIO]);
    const noTouch = demoRequest({ device: { ...req.device!, touch: false } });
    expect(formatsForDevice(noTouch).has(AdFormat.INTERACTIVE)).toBe(false);
    expect(check(good, background)).toMatchObject({ reason: VetoReason.FORMAT_MISMATCH });
  });

  it("rejects blocked categories, brand-unsafe genres, explicit content, long and malformed creatives", () => {
    expect(check()).toBeUndefined();
    expect(check({ ...good, iabCategory: "IAB26-1" })).toMatchObject({ reason: VetoReason.POLICY });
    expect(check(good, req, create(AdvertiserSchema, { blockedGenres: ["POP"] }))?.detail).toMatch(/brand safety/);
    const minor = demoRequest({ user: { ...req.user!, ageBracket: AgeBracket.AGE_BRACKET_UNDER_18 } });
    expect(check({ ...good, explicit: true }, minor)).toMatchObject({ reason: VetoReason.EXPLICIT_CONTENT });
    expect(check({ ...good, explicit: true })).toBeUndefined();
    expect(check({ ...good, durationMs: 90_000 })).toMatchObject({ reason: VetoReason.DURATION_MISMATCH });
    expect(check({ ...good, mediaUrl: "" })?.detail).toBe("creative invalid: media_url is missing");
    expect(check({ ...good, mimeType: "audio/mpeg" })?.detail).toMatch(/does not fit format VIDEO/);
    expect(check({ ...good, width: 0 })?.reason).toBe(VetoReason.CREATIVE_INVALID);
  });
});
