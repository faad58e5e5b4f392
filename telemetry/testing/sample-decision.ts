/**
 * A decision made by the real built-in WASM kernel on seeded inputs, shaped as the decision engine hands it to
 * the log. For tests of the log, replay and explain that do not need the whole mesh.
 */
import { create } from "@bufbuild/protobuf";
import { type AgentVote, AgentVoteSchema, VetoReason } from "../../gen/chorus/v1/agent_pb.ts";
import { AdFormat, BreakKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import {
  type DecideRequest,
  DecideRequestSchema,
  type DecideResponse,
  DecideResponseSchema,
  DegradedAgentSchema,
  DegradedReason,
  Fallback,
} from "../../gen/chorus/v1/decision_pb.ts";
import type { KernelInventory, KernelRequest, KernelResult } from "../../wasm-core/src/kernel-inputs.ts";
import { loadKernel } from "../../wasm-core/src/mod.ts";
import type { DecisionEntry } from "../decision-log.ts";
import type { KernelCall } from "../kernel-record.ts";
import { builtinKernel } from "../kernel-source.ts";

export const SAMPLE_USER_ID = "listener-4711@example.com";

/** Mulberry32: small, seeded, the same sequence everywhere. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export interface SampleOptions {
  seed?: number;
  /** Name an agent that did not answer: its vote is neutral and its weight is cut. */
  degradedAgent?: string;
  explain?: boolean;
}

const AGENTS = ["intent", "relevance", "bidding", "creative", "budget", "timing"];

export async function sampleDecision(options: SampleOptions = {}): Promise<DecisionEntry & { kernel: KernelCall }> {
  const next = random(options.seed ?? 7);
  const n = 10;
  const d = 8;
  const embeddings = Float32Array.from({ length: n * d }, () => next() * 2 - 1);
  const inventory: KernelInventory = {
    version: 42,
    candidates: n,
    dimensions: d,
    embeddings,
    durationMs: Int32Array.from({ length: n }, (_, c) => 15_000 + (c % 3) * 15_000),
    advertiserId: Int32Array.from({ length: n }, (_, c) => c % 6),
    categoryId: Int32Array.from({ length: n }, (_, c) => c % 5),
  };
  const degradedIndex = options.degradedAgent ? AGENTS.indexOf(options.degradedAgent) : -1;
  const weights = Float32Array.from(AGENTS, (_, a) => (a === degradedIndex ? 0.1 : 0.5 + next() * 0.5));
  const confidence = Float32Array.from(AGENTS, (_, a) => (a === degradedIndex ? 0.5 : 0.6 + next() * 0.4));
  const scores = Float32Array.from({ length: AGENTS.length * n }, (_, i) =>
    Math.floor(i / n) === degradedIndex ? 0.5 : next(),
  );
  const vetoMask = new Uint32Array(n);
  vetoMask[2] = 1 << VetoReason.FREQUENCY_CAP;
  vetoMask[5] = 1 << VetoReason.BUDGET_THROTTLED;
  const request: KernelRequest = {
    inventoryVersion: inventory.version,
    intent: Float32Array.from({ length: d }, () => next() * 2 - 1),
    weights,
    confidence,
    scores,
    relevanceWeight: 0.75,
    vetoMask,
    bid: Float32Array.from({ length: n }, () => 1_000 + next() * 20_000),
    pResponse: Float32Array.from({ length: n }, () => 0.2 + next() * 0.8),
    reservePrice: 1_500,
    auctionType: 0,
    maxAds: 3,
    maxDurationMs: 60_000,
  };
  const creativeIds = Array.from({ length: n }, (_, c) => `cr-${String(c).padStart(2, "0")}`);
  const campaignIds = Array.from({ length: n }, (_, c) => `camp-${c % 4}`);
  const { bytes } = builtinKernel();
  const kernel = loadKernel(bytes, { maxCandidates: n, maxDimensions: d, maxAgents: AGENTS.length });
  kernel.setInventory(inventory);
  const result: KernelResult = kernel.decide(request, "builtin");

  const decisionId = `dec-${options.seed ?? 7}-${options.degradedAgent ?? "all"}`;
  const votes: AgentVote[] = AGENTS.map((agent, a) =>
    create(AgentVoteSchema, {
      agent,
      runId: decisionId,
      inventoryVersion: BigInt(inventory.version),
      confidence: confidence[a],
      scores: Array.from(scores.subarray(a * n, a * n + n)),
      vetoes:
        agent === "budget"
          ? [{ candidate: 5, reason: VetoReason.BUDGET_THROTTLED, detail: "campaign camp-1 throttled: pacing ahead" }]
          : agent === "relevance"
            ? [{ candidate: 2, reason: VetoReason.FREQUENCY_CAP, detail: "frequency cap: 3 impressions in 3600 s" }]
            : [],
      bidsMicros: agent === "bidding" ? Array.from(request.bid) : [],
      predictedResponse: agent === "relevance" ? Array.from(request.pResponse) : [],
      moduleVersion: "builtin",
    }),
  );
  const degraded =
    degradedIndex >= 0
      ? create(DegradedAgentSchema, {
          agent: AGENTS[degradedIndex]!,
          reason: DegradedReason.TIMEOUT,
          fallback: Fallback.NEUTRAL_VOTE,
          weight: weights[degradedIndex]!,
        })
      : undefined;
  const decideRequest: DecideRequest = create(DecideRequestSchema, {
    requestId: `req-${decisionId}`,
    placement: { breakKind: BreakKind.MID_ROLL, maxDurationMs: 60_000, maxAds: 3, floorPriceMicros: 1_500n },
    user: { userId: SAMPLE_USER_ID, consent: { personalizedAds: true, measurement: true }, geo: { country: "DE" } },
    device: { type: DeviceType.PHONE, os: "android" },
    context: { sessionId: `session-of-${SAMPLE_USER_ID}`, genre: "indie", moodTags: ["calm"] },
    explain: options.explain ?? false,
  });
  const response: DecideResponse = create(DecideResponseSchema, {
    decisionId,
    coordination: "parallel",
    ads: Array.from(result.indices, (c, t) => ({
      sequence: t + 1,
      creativeId: creativeIds[c],
      campaignId: campaignIds[c],
      priceMicros: BigInt(Math.round(result.prices[t]!)),
      format: AdFormat.AUDIO,
      durationMs: inventory.durationMs[c],
    })),
    degradedAgents: degraded ? [degraded] : [],
    moduleVersions: [{ module: "kernel", version: "builtin" }],
  });
  return {
    decisionId,
    decidedAt: new Date("2026-11-22T12:00:00Z"),
    request: decideRequest,
    response,
    coordination: "parallel",
    agents: AGENTS.map((agent, a) => ({
      agent,
      vote: votes[a],
      degraded: a === degradedIndex ? degraded : undefined,
      latencyUs: 800 + a * 100,
    })),
    kernel: { inventory, request, agents: AGENTS, creativeIds, campaignIds },
    kernelResult: result,
    durationUs: 4_200,
  };
}
