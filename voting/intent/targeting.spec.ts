import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { VetoReason } from "../../gen/chorus/v1/agent_pb.ts";
import { CampaignSchema } from "../../gen/chorus/v1/campaign_pb.ts";
import { AgeBracket, ConsentSchema, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import { ListeningContextSchema, PlaybackSignalSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import { applyPlayback, createIntentState } from "./state.ts";
import { checkTargeting } from "./targeting.ts";

const NOON = Date.UTC(2026, 0, 1, 12);
const campaign = (targeting: object, cap?: object) =>
  create(CampaignSchema, { id: "c1", targeting, frequencyCap: cap });

describe("intent - targeting rules", () => {
  const req = demoRequest();
  it("geo, age, device and daypart exclude with a reason naming the rule", () => {
    expect(checkTargeting(campaign({ countries: ["FR"] }), req, undefined, NOON)?.detail).toMatch(/^geo: DE/);
    expect(checkTargeting(campaign({ countries: ["DE"] }), req, undefined, NOON)).toBeUndefined();
    expect(
      checkTargeting(campaign({ ageBrackets: [AgeBracket.AGE_BRACKET_18_24] }), req, undefined, NOON)?.reason,
    ).toBe(VetoReason.TARGETING);
    expect(checkTargeting(campaign({ deviceTypes: [DeviceType.TV] }), req, undefined, NOON)?.detail).toMatch(/^device/);
    expect(checkTargeting(campaign({ hours: [12] }), req, undefined, NOON)).toBeUndefined();
    expect(checkTargeting(campaign({ hours: [3] }), req, undefined, NOON)?.detail).toMatch(/daypart: hour 12/);
  });

  it("genre uses the context, else the learned taste; consent is a CONSENT veto", () => {
    expect(checkTargeting(campaign({ genres: ["rock"] }), req, undefined, NOON)?.detail).toMatch(/^genre: pop/);
    expect(checkTargeting(campaign({ genres: ["Pop"] }), req, undefined, NOON)).toBeUndefined();
    const state = createIntentState();
    const at = timestampFromMs(NOON);
    applyPlayback(
      state,
      create(PlaybackSignalSchema, {
        userId: "listener-1",
        sessionId: "s",
        at,
        kind: { case: "contentStart", value: { genre: "jazz" } },
      }),
    );
    const noContext = demoRequest({ context: create(ListeningContextSchema, { sessionId: "s" }) });
    const profile = state.profiles.get("listener-1");
    expect(checkTargeting(campaign({ genres: ["jazz"] }), noContext, profile, NOON)).toBeUndefined();
    expect(checkTargeting(campaign({ genres: ["rock"] }), noContext, profile, NOON)?.reason).toBe(VetoReason.TARGETING);
    const noConsent = demoRequest({ user: { ...req.user!, consent: create(ConsentSchema, { measurement: true }) } });
    expect(checkTargeting(campaign({ requirePersonalizationConsent: true }), noConsent, undefined, NOON)?.reason).toBe(
      VetoReason.CONSENT,
    );
  });
});
