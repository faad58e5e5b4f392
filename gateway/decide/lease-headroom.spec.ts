import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { type AgentVote, AgentVoteSchema, VetoReason } from "../../gen/chorus/v1/agent_pb.ts";
import { CampaignSchema, CreativeSchema } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import { demoInventory } from "../../lib/demo/demo-inventory.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import type { AgentName } from "../../lib/subjects.ts";
import { buildKernelRequest } from "./build-kernel-request.ts";
import { leaseHeadroom } from "./lease-headroom.ts";

/**
 * The headroom snapshot by campaign slot reaches each candidate of its own campaign: creatives of three campaigns,
 * interleaved (a campaign's slot is not its creatives' positions), one campaign without headroom (NO_LEASE veto),
 * one whose lease caps the bid per impression, one unlimited.
 */
describe("lease headroom - by campaign slot", () => {
  const room: Record<string, bigint> = { a: 5_000n, b: 0n, c: 10n ** 12n };
  const campaigns = Object.keys(room).map((id) =>
    create(CampaignSchema, { id, bidStrategy: { maxCpmMicros: 1_000_000_000n } }),
  );
  const order = ["b", "a", "c", "a", "b", "c", "c", "a"];
  const inventory = demoInventory({
    campaigns,
    creatives: order.map((campaignId, i) =>
      create(CreativeSchema, { id: `cr${i}`, campaignId, format: AdFormat.AUDIO, durationMs: 15_000 }),
    ),
  });

  it("lease headroom - asks the guard once per campaign and vetoes and caps each candidate by its campaign's", () => {
    const asked: string[] = [];
    const headroom = leaseHeadroom(inventory, {
      headroom: (id) => {
        asked.push(id);
        return room[id]!;
      },
      commit: async () => [],
    });
    expect(asked.sort()).toEqual(["a", "b", "c"]);
    const n = inventory.size;
    const votes = new Map<AgentName, AgentVote>([
      ["bidding", create(AgentVoteSchema, { agent: "bidding", bidsMicros: new Array(n).fill(1e9) })],
      ["relevance", create(AgentVoteSchema, { agent: "relevance", predictedResponse: new Array(n).fill(0.5) })],
    ]);
    const { request } = buildKernelRequest(
      inventory,
      demoRequest(),
      votes,
      ["bidding", "relevance"],
      { weights: new Float32Array(2), relevanceWeight: 0 },
      headroom,
    );
    for (const c of inventory.candidates) {
      const id = c.campaign.id;
      expect((request.vetoMask[c.index]! >>> VetoReason.NO_LEASE) & 1, `${c.creative.id} of ${id}`).toBe(
        id === "b" ? 1 : 0,
      );
      // Bid per response x response: the lease's room less one micro (a), else the max CPM per impression.
      const perImpression = request.bid[c.index]! * request.pResponse[c.index]!;
      expect(perImpression, `${c.creative.id} of ${id}`).toBeCloseTo(id === "a" ? 4_999 : 1_000_000, 0);
    }
  });
});
