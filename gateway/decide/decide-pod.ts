import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type AgentVote, type AuctionOutcome, AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import {
  type DecideRequest,
  type DecideResponse,
  DecideResponseSchema,
  DegradedReason,
  ExplanationSchema,
  Fallback,
  type ModuleVersion,
  ModuleVersionSchema,
  NoFillReason,
} from "../../gen/chorus/v1/decision_pb.ts";
import type { SpendGuard, SpendItem } from "../../ledger/ports.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import type { AgentName } from "../../lib/subjects.ts";
import { catalogKernelCall } from "../../telemetry/decision-telemetry.ts";
import { explainDecision } from "../../telemetry/explain.ts";
import type { Degradation } from "../../voting/contract/degradation.ts";
import { kernelWeights } from "../../voting/orchestrator/vote.ts";
import { applyVoteScoring } from "../../voting/scoring/agent-scorer.ts";
import type { KernelResult } from "../../wasm-core/src/kernel-inputs.ts";
import type { Cancellation } from "../server/ports.ts";
import { buildKernelRequest, type KernelInputs } from "./build-kernel-request.ts";
import { kernelFailure } from "./decide-errors.ts";
import { degradedList } from "./degraded-list.ts";
import { type Kernel, toKernelInventory } from "./kernel-port.ts";
import { leaseHeadroom } from "./lease-headroom.ts";
import { auctionEntries, emptyPodReason, podAds, type Winner, winners } from "./pod-response.ts";

/** A decision Timing held back ("not now"): no kernel request was built and no auction ran. */
interface HeldBack {
  response: DecideResponse;
  inputs: undefined;
  chosen: Winner[];
  degradedNames: ReadonlySet<string>;
  kernelResult: undefined;
}

/** A decision that ran the auction. */
export interface Auctioned {
  response: DecideResponse;
  inputs: KernelInputs;
  chosen: Winner[];
  degradedNames: ReadonlySet<string>;
  kernelResult: KernelResult;
}

export type PodDecision = HeldBack | Auctioned;

export interface DecidePodArgs {
  decisionId: string;
  request: DecideRequest;
  inventory: Inventory;
  /** Every agent's vote (the orchestrator's weights included), and the agents the gatherer reported degraded. */
  votes: Map<AgentName, AgentVote>;
  degraded: readonly Degradation[];
  /** Voting agents in kernel row order. */
  agents: readonly AgentName[];
  kernel: Kernel;
  spendGuard: SpendGuard | undefined;
  coordination: string;
  moduleVersion: (module: string, version: string) => ModuleVersion;
  /** The call's signal (client cancel, the client's deadline): once aborted, nothing is reserved. */
  signal?: Cancellation;
}

/**
 * Everything of a decision after the votes are in, as stages in order: scoring (versions, scorer failures join the
 * degraded list), weights (the degraded list records each one's weight), Timing's gate (before any kernel request
 * is built), the spend headroom snapshot, the kernel request (pure), the WASM kernel's auction, the spend commit,
 * the pod and the explanation. One function for the gateway's engine and the simulator's virtual-time engine, so
 * the simulator decides exactly as a gateway does.
 */
export async function decidePod(a: DecidePodArgs): Promise<PodDecision> {
  const { decisionId, request, inventory, votes, degraded, agents, kernel, spendGuard } = a;
  const placement = request.placement!;

  // Each stage reports who did not decide as itself; degradedList builds the response's list from the reports.
  const reports: Degradation[] = [...degraded, ...applyVoteScoring(votes)];
  const degradedNames = new Set(reports.map((d) => d.agent));

  const weighting = kernelWeights(votes.get("orchestrator"), agents, degradedNames);
  const weightOf = (agent: string) => {
    const i = agents.indexOf(agent as AgentName);
    return i >= 0 ? weighting.weights[i]! : 0;
  };
  const response = create(DecideResponseSchema, {
    decisionId,
    degradedAgents: degradedList(reports, weightOf),
    coordination: a.coordination,
    moduleVersions: [...votes.values()].map((v) => a.moduleVersion(v.agent, v.moduleVersion)),
  });

  const timing = votes.get("timing")?.timing;
  if (timing && !timing.breakNow && !placement.forceNow) {
    response.noFillReason = NoFillReason.NOT_A_GOOD_MOMENT;
    response.nextBreakOffsetMs = timing.insertionOffsetMs;
    if (request.explain) response.explanation = create(ExplanationSchema, { summary: `timing: ${timing.reason}` });
    return { response, inputs: undefined, chosen: [], degradedNames, kernelResult: undefined };
  }

  const headroom = spendGuard && leaseHeadroom(inventory, spendGuard);
  const inputs = buildKernelRequest(inventory, request, votes, agents, weighting, headroom, request.explain);

  const result = await kernel.decide(inputs.request, decisionId).catch((err: unknown) => {
    throw kernelFailure(err);
  });
  response.moduleVersions.push(a.moduleVersion("kernel", result.moduleVersion));
  if (result.degraded !== undefined) {
    // The module the decision was routed to failed it (trap, hang, an output that broke the contract): a fallback
    // decided, and the client is told.
    const hang = /timeout|no answer within/i.test(result.degraded);
    reports.push({
      agent: "kernel",
      reason: hang ? DegradedReason.TIMEOUT : DegradedReason.ERROR,
      fallback: Fallback.UNSPECIFIED,
    });
    response.degradedAgents = degradedList(reports, weightOf);
  }
  let chosen = winners(result, agents.length);

  if (spendGuard && chosen.length > 0) {
    // An answer nobody will receive must not hold budget: the last point to stop is before the commit.
    // (deadline_ms is the agents' time budget, not the client's deadline: a late answer is still received.)
    if (a.signal?.aborted) throw ConnectError.from(a.signal.reason, Code.Canceled);
    const items: SpendItem[] = chosen.map((w) => ({
      campaignId: inventory.candidates[w.index]!.campaign.id,
      creativeId: inventory.candidates[w.index]!.creative.id,
      priceMicros: w.priceMicros,
    }));
    const accepted = new Set(
      (await spendGuard.commit(decisionId, items, { userId: request.user?.userId })).map((i) => i.creativeId),
    );
    chosen = chosen.filter((w) => accepted.has(inventory.candidates[w.index]!.creative.id));
    if (chosen.length === 0) response.noFillReason = NoFillReason.NO_BUDGET_LEASE;
  }

  const formats = votes.get("creative")?.formats ?? [];
  response.ads = podAds(inventory, chosen, formats, timing?.insertionOffsetMs ?? 0);
  if (result.count === 0) response.noFillReason = emptyPodReason(inputs, inventory);
  if (request.explain) {
    // The explanation `chorus explain` gives of this decision's record: one builder (telemetry/explain.ts).
    const call = catalogKernelCall(inventory, toKernelInventory(inventory), inputs.request, inputs.agents);
    const voters = [...votes].map(([agent, vote]) => ({
      agent,
      vote,
      degraded: response.degradedAgents.find((d) => d.agent === agent),
    }));
    response.explanation = explainDecision({ kernel: call, result, agents: voters, ads: response.ads }).explanation;
  }
  return { response, inputs, chosen, degradedNames, kernelResult: result };
}

/** The AuctionOutcome the learning agents (Bidding, Relevance, Orchestrator) learn from. */
export function auctionOutcome(
  decisionId: string,
  request: DecideRequest,
  inventory: Inventory,
  decidedAtMs: number,
  pod: Pick<Auctioned, "inputs" | "chosen" | "degradedNames">,
  coordination: string,
): AuctionOutcome {
  return create(AuctionOutcomeSchema, {
    decisionId,
    request,
    inventoryVersion: BigInt(inventory.version),
    decidedAt: timestampFromMs(decidedAtMs),
    reservePriceMicros: request.placement?.floorPriceMicros ?? 0n,
    entries: auctionEntries(pod.inputs, inventory, pod.chosen),
    agents: [...pod.inputs.agents],
    degradedAgents: [...pod.degradedNames],
    coordination,
  });
}

/** A memo of ModuleVersion messages: a handful of (module, version) pairs, the same in every response. */
export function moduleVersionCache(): (module: string, version: string) => ModuleVersion {
  const cache = new Map<string, ModuleVersion>();
  return (module, version) => {
    const key = `${module}@${version}`;
    let m = cache.get(key);
    if (!m) {
      m = create(ModuleVersionSchema, { module, version });
      cache.set(key, m);
    }
    return m;
  };
}
