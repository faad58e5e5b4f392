/**
 * Agents of one host are handed the same decoded input message (shared-inputs.ts): no input handler may change
 * it. Every registered agent's handlers run here on deeply frozen messages (ES modules are strict: a write to a
 * frozen object throws), along the paths they learn on (an outcome, then the events of its winners, then playback).
 */
import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { AdEventType, PlaybackSignalSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { demoInventory } from "../../lib/demo/demo-inventory.ts";
import { demoRequest } from "../../lib/demo/demo-request.ts";
import { AGENTS } from "../../lib/subjects.ts";
import type { HandlerContext } from "../../voting/contract/agent-module.ts";
import { loadAgents } from "../../voting/registry/agent-loaders.ts";

function deepFreeze<T>(value: T): T {
  // Typed arrays cannot be frozen (and no handler writes bytes fields).
  if (typeof value !== "object" || value === null || ArrayBuffer.isView(value) || Object.isFrozen(value)) return value;
  for (const v of Object.values(value)) deepFreeze(v);
  return Object.freeze(value);
}

const NOW = Date.UTC(2026, 0, 1, 12);
const inventory = demoInventory();
const ctx: HandlerContext = { nowMs: NOW, inventory: () => inventory, owns: () => true };
const request = demoRequest();
const userId = request.user!.userId;
const winners = inventory.candidates.slice(0, 3);
const losers = inventory.candidates.slice(3, 8);

const playbackKinds: MessageInitShape<typeof PlaybackSignalSchema>["kind"][] = [
  { case: "sessionStart", value: { device: request.device } },
  {
    case: "contentStart",
    value: {
      genre: "Pop",
      moodTags: ["Happy", "Upbeat"],
      durationMs: 240_000,
      chapterMarkersMs: [120_000, 60_000],
      silenceMarkersMs: [90_000, 30_000],
    },
  },
  { case: "position", value: { positionMs: 10_000 } },
  { case: "pause", value: { positionMs: 11_000 } },
  { case: "resume", value: { positionMs: 11_000 } },
  { case: "skip", value: { positionMs: 12_000 } },
  { case: "screen", value: { screenOn: false, foreground: false } },
  { case: "sessionEnd", value: {} },
];

/** The messages of each input schema, in the order a host sees them. */
const samples = new Map<string, unknown[]>([
  [
    AuctionOutcomeSchema.typeName,
    [
      create(AuctionOutcomeSchema, {
        decisionId: "d1",
        request,
        decidedAt: timestampFromMs(NOW),
        reservePriceMicros: 1_000n,
        agents: ["intent", "relevance", "bidding", "creative", "budget", "timing"],
        entries: [
          ...winners.map((c, i) => ({
            creativeId: c.creative.id,
            campaignId: c.campaign.id,
            bidMicros: 5_000,
            predictedResponse: 0.05,
            won: true,
            priceMicros: 3_000n,
            position: i + 1,
            contributions: [0.2, 0.3, 0.1, 0.1, 0.2, 0.1],
          })),
          ...losers.map((c) => ({
            creativeId: c.creative.id,
            campaignId: c.campaign.id,
            bidMicros: 2_000,
            predictedResponse: 0.02,
            priceToBeatMicros: 3_000n,
          })),
        ],
      }),
    ],
  ],
  [
    LedgerEntrySchema.typeName,
    winners.flatMap((c, i) =>
      [AdEventType.IMPRESSION, AdEventType.CLICK, AdEventType.COMPLETE, AdEventType.CONVERSION].map((type) =>
        create(LedgerEntrySchema, {
          campaignId: c.campaign.id,
          userId,
          event: {
            eventId: `e${i}-${type}`,
            decisionId: "d1",
            creativeId: c.creative.id,
            type,
            occurredAt: timestampFromMs(NOW),
          },
        }),
      ),
    ),
  ],
  [
    PlaybackSignalSchema.typeName,
    playbackKinds.map((kind) =>
      create(PlaybackSignalSchema, { sessionId: "s1", userId, at: timestampFromMs(NOW), kind }),
    ),
  ],
]);

describe("agent inputs are read-only", () => {
  it("no registered agent's input handler changes its message", async () => {
    const modules = await loadAgents(AGENTS);
    let handled = 0;
    for (const module of modules) {
      const state = module.createState();
      // Outcomes first: the events that follow are learned only for known winners.
      const inputs = [...module.inputs].sort(
        (a, b) => +(b.schema === AuctionOutcomeSchema) - +(a.schema === AuctionOutcomeSchema),
      );
      for (const input of inputs) {
        const messages = samples.get((input.schema as DescMessage).typeName);
        expect(messages, `${module.name}: a sample of ${input.schema.typeName}`).toBeDefined();
        const changed = new Set<string>();
        for (const message of messages!) {
          for (const key of input.handle(state, deepFreeze(message) as never, ctx) ?? []) changed.add(key);
          handled++;
        }
        // The samples reach the handlers' learning paths (the outcome path shows in the events learned after it).
        if (input.schema !== AuctionOutcomeSchema) expect(changed.size, `${module.name} learns from its input`).toBe(1);
      }
    }
    expect(handled).toBeGreaterThan(50);
    // The freeze reaches nested lists and messages (a handler's write there would have thrown above).
    const outcome = samples.get(AuctionOutcomeSchema.typeName)![0] as ReturnType<
      typeof create<typeof AuctionOutcomeSchema>
    >;
    expect(() => outcome.entries[0]!.contributions.push(1)).toThrow(TypeError);
    expect(() => {
      outcome.request!.user!.userId = "x";
    }).toThrow(TypeError);
  });
});
