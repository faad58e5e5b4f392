/**
 * Why each candidate won or lost, per agent, in plain words: the Explanation of DecideResponse (for `explain`
 * requests) and of `chorus explain`. A pure function of one kernel call, its result and the agents' votes, so the
 * decision engine (live objects) and the CLI (a DecisionRecord) explain alike.
 *
 * Chosen candidates are explained with the kernel's own outputs. Losers are explained with the kernel's terms
 * (wasm-core/src/kernel-terms.ts, the one TypeScript copy of its arithmetic, bit for bit) and its eligibility
 * and pod rules.
 */
import { create } from "@bufbuild/protobuf";
import type { AgentVote } from "../gen/chorus/v1/agent_pb.ts";
import { VetoReason } from "../gen/chorus/v1/agent_pb.ts";
import type { DecisionRecord } from "../gen/chorus/v1/decision_log_pb.ts";
import {
  type CandidateExplanation,
  CandidateExplanationSchema,
  type DegradedAgent,
  DegradedReason,
  type Explanation,
  ExplanationSchema,
  Fallback,
  type PodAd,
} from "../gen/chorus/v1/decision_pb.ts";
import type { KernelResult } from "../wasm-core/src/kernel-inputs.ts";
import {
  agentCoefficients,
  byRank,
  type CandidateTerms,
  candidateTerms,
  type Ineligibility,
  ineligibility,
} from "../wasm-core/src/kernel-terms.ts";
import { type KernelCall, kernelCallOf, kernelResultOf } from "./kernel-record.ts";

const f32 = Math.fround;

export interface ExplainInput {
  kernel: KernelCall;
  result: KernelResult;
  /** Each agent's vote (for its vetoes) and degradation, by agent name. */
  agents: readonly { agent: string; vote?: AgentVote; degraded?: DegradedAgent }[];
  /** The response's ads, for the exact micros charged. */
  ads?: readonly PodAd[];
}

export interface ExplainOutput {
  explanation: Explanation;
  /** The same, as lines for a terminal. */
  lines: string[];
}

/** A candidate's kernel terms, as the kernel computes them (wasm-core/src/kernel-terms.ts). */
export type Terms = CandidateTerms;

/** Every candidate's terms for one kernel call. */
export function callTerms(call: KernelCall): Terms[] {
  const coefficients = agentCoefficients(call.request);
  return Array.from({ length: call.inventory.candidates }, (_, c) =>
    candidateTerms(call.inventory, call.request, c, coefficients),
  );
}

const vetoName = (reason: number) => (VetoReason[reason] ?? `reason ${reason}`).toLowerCase().replaceAll("_", " ");
const reasonName = (reason: DegradedReason) => (DegradedReason[reason] ?? "unknown").toLowerCase().replaceAll("_", " ");
const fallbackName = (fallback: Fallback) =>
  fallback === Fallback.LAST_SIGNAL
    ? "its last cached signal"
    : fallback === Fallback.NEUTRAL_VOTE
      ? "a neutral vote"
      : "no fallback";
/** Four significant digits for people; micros (large values) as whole numbers. */
const num = (x: number) => String(Math.abs(x) >= 1000 ? Math.round(x) : Number(x.toPrecision(4)));

export function degradedSentence(d: DegradedAgent): string {
  return `${d.agent} was degraded (${reasonName(d.reason)}): used ${fallbackName(d.fallback)} at weight ${num(d.weight)}`;
}

/** Losers (and vetoed candidates) shown in full; the rest get a line each (vetoes: a count per reason). */
export const DEFAULT_DETAILED_LOSERS = 10;

export function explainDecision(input: ExplainInput, detailedLosers = DEFAULT_DETAILED_LOSERS): ExplainOutput {
  const { kernel, result } = input;
  const { inventory, request } = kernel;
  const n = inventory.candidates;
  const agentCount = kernel.agents.length;
  const name = (c: number) => kernel.creativeIds[c] ?? `candidate ${c}`;
  const terms = callTerms(kernel);
  const position = new Map<number, number>();
  for (let t = 0; t < result.count; t++) position.set(result.indices[t]!, t);
  const degraded = new Map(input.agents.filter((a) => a.degraded).map((a) => [a.agent, a.degraded!] as const));

  // Vetoes with the agent that raised them; mask bits no vote accounts for are listed by reason alone.
  const vetoes: string[][] = Array.from({ length: n }, () => []);
  // Only vetoes that reached the kernel's mask count: the kernel decides eligibility by the mask alone.
  for (const { agent, vote } of input.agents) {
    for (const v of vote?.vetoes ?? []) {
      if (v.candidate < n && (request.vetoMask[v.candidate]! >>> v.reason) & 1) {
        vetoes[v.candidate]!.push(`${agent}: ${vetoName(v.reason)}${v.detail ? ` (${v.detail})` : ""}`);
      }
    }
  }
  for (let c = 0; c < n; c++) {
    const claimed = new Set(
      input.agents.flatMap((a) => (a.vote?.vetoes ?? []).filter((v) => v.candidate === c).map((v) => v.reason)),
    );
    for (let bit = 0; bit < 32; bit++) {
      if ((request.vetoMask[c]! >>> bit) & 1 && !claimed.has(bit)) vetoes[c]!.push(vetoName(bit));
    }
  }

  const { losses: lossReasons, order } = podWalk(kernel, terms, name);

  const candidates: CandidateExplanation[] = terms.map((t, c) => {
    const at = position.get(c);
    const chosen = at !== undefined;
    // Chosen: the kernel's own numbers; the rest: the recomputed terms.
    const quality = chosen ? result.qualities[at]! : t.quality;
    const relevance = chosen ? result.relevances[at]! : t.relevance;
    const rank = chosen ? result.ranks[at]! : t.rank;
    const row = chosen ? at * (agentCount + 1) : -1;
    const price = chosen ? result.prices[at]! : 0;
    const ad = chosen ? input.ads?.find((a) => a.creativeId === name(c)) : undefined;
    const priceMicros = chosen ? (ad?.priceMicros ?? BigInt(Math.round(price))) : 0n;
    const contributions = kernel.agents.map((agent, a) => ({
      agent,
      weight: request.weights[a]!,
      confidence: request.confidence[a]!,
      score: request.scores[a * n + c]!,
      contribution: chosen ? result.contributions[row + 1 + a]! : t.contributions[a]!,
    }));
    const summary = chosen
      ? `won position ${at + 1}: rank ${num(rank)} = value ${num(t.value)} x quality ${num(quality)}; ` +
        `pays ${priceMicros} micros (${priceReason(kernel, terms, order, c, price, name)})`
      : vetoes[c]!.length > 0
        ? `vetoed: ${vetoes[c]!.join("; ")}`
        : `lost: ${lossReasons.get(c) ?? "not chosen"}`;
    return create(CandidateExplanationSchema, {
      creativeId: name(c),
      campaignId: kernel.campaignIds[c] ?? "",
      advertiserId: kernel.advertiserIds?.[c] ?? "",
      chosen,
      quality,
      relevance,
      valueMicros: t.value,
      rank,
      priceMicros,
      contributions,
      vetoes: vetoes[c]!,
      summary,
    });
  });

  const winners = Array.from({ length: result.count }, (_, t) => name(result.indices[t]!));
  const vetoed = vetoes.filter((v) => v.length > 0).length;
  const summaryParts = [
    winners.length > 0
      ? `chose ${winners.join(", ")} out of ${n} candidates (${vetoed} vetoed)`
      : `chose nothing out of ${n} candidates (${vetoed} vetoed)`,
    ...[...degraded.values()].map(degradedSentence),
  ];
  const explanation = create(ExplanationSchema, { candidates, summary: `${summaryParts.join("; ")}.` });
  return { explanation, lines: explanationLines(explanation, kernel, terms, degraded, detailedLosers) };
}

/** The explanation of a recorded decision, or undefined when the decision never reached the kernel. */
export function explainRecord(record: DecisionRecord, detailedLosers?: number): ExplainOutput | undefined {
  if (!record.kernelInputs || !record.kernelResult) return undefined;
  return explainDecision(
    {
      kernel: kernelCallOf(record.kernelInputs),
      result: kernelResultOf(record.kernelResult, record.kernelInputs.inventoryVersion),
      agents: record.agents,
      ads: record.response?.ads,
    },
    detailedLosers,
  );
}

/**
 * The kernel's eligibility tests and pod walk, retold: why each unvetoed candidate did not make the pod, and the
 * global order (eligible candidates by rank) that second prices are set against.
 */
function podWalk(
  call: KernelCall,
  terms: Terms[],
  name: (c: number) => string,
): { losses: Map<number, string>; order: number[] } {
  const { inventory, request } = call;
  const reserve = f32(request.reservePrice);
  const losses = new Map<number, string>();
  const eligible: number[] = [];
  terms.forEach((t, c) => {
    if (request.vetoMask[c] !== 0) return;
    const duration = inventory.durationMs[c]!;
    const why = ineligibility(t, request, duration);
    if (why === undefined) eligible.push(c);
    else losses.set(c, ineligibleSentence(why, t, reserve, duration, request.maxDurationMs));
  });
  eligible.sort(byRank(terms.map((t) => t.rank)));
  const chosen: number[] = [];
  let usedMs = 0;
  eligible.forEach((c, place) => {
    const ranked = `ranked ${place + 1} of ${eligible.length} eligible`;
    const duration = inventory.durationMs[c]!;
    const clash = chosen.find(
      (o) =>
        inventory.advertiserId[o] === inventory.advertiserId[c] || inventory.categoryId[o] === inventory.categoryId[c],
    );
    if (chosen.length >= request.maxAds) losses.set(c, `${ranked}; the pod was already full (${request.maxAds} ads)`);
    else if (usedMs + duration > request.maxDurationMs) {
      losses.set(c, `${ranked}; its ${duration} ms did not fit the ${request.maxDurationMs - usedMs} ms left`);
    } else if (clash !== undefined) {
      const same = inventory.advertiserId[clash] === inventory.advertiserId[c] ? "advertiser" : "category";
      losses.set(c, `${ranked}; same ${same} as ${name(clash)}, which ranked higher`);
    } else {
      chosen.push(c);
      usedMs += duration;
    }
  });
  return { losses, order: eligible };
}

function ineligibleSentence(why: Ineligibility, t: Terms, reserve: number, duration: number, breakMs: number): string {
  switch (why) {
    case "quality":
      return `its quality ${num(t.quality)} is not positive`;
    case "reserve":
      return `its value ${num(t.value)} micros is below the reserve ${num(reserve)}`;
    case "rank":
      return `its rank ${num(t.rank)} is not positive`;
    case "duration":
      return `it lasts ${duration} ms, longer than the break (${breakMs} ms)`;
  }
}

function priceReason(
  call: KernelCall,
  terms: Terms[],
  order: readonly number[],
  c: number,
  price: number,
  name: (c: number) => string,
): string {
  const reserve = f32(call.request.reservePrice);
  const next = order[order.indexOf(c) + 1];
  if (call.request.auctionType === 1) return "first price: its own value";
  if (next === undefined) return "second price with no runner-up: the reserve";
  if (price === reserve) return `second price against ${name(next)}, raised to the reserve`;
  if (price === terms[c]!.value) return `second price against ${name(next)}, capped at its own value`;
  return `second price: ${name(next)}'s rank ${num(terms[next]!.rank)} / its quality ${num(terms[c]!.quality)}`;
}

function explanationLines(
  explanation: Explanation,
  call: KernelCall,
  terms: Terms[],
  degraded: ReadonlyMap<string, DegradedAgent>,
  detailedLosers: number,
): string[] {
  const lines = [`Summary: ${explanation.summary}`];
  const ranked = explanation.candidates
    .map((c, index) => ({ c, index }))
    .sort((x, y) => Number(y.c.chosen) - Number(x.c.chosen) || y.c.rank - x.c.rank || x.index - y.index);
  const vetoed = ranked.filter(({ c }) => c.vetoes.length > 0);
  const others = ranked.filter(({ c }) => c.vetoes.length === 0);
  let losers = 0;
  for (const { c, index } of others) {
    if (!c.chosen && losers++ >= detailedLosers) {
      lines.push(`lost ${c.creativeId} (campaign ${c.campaignId}): ${c.summary}; rank ${num(c.rank)}`);
      continue;
    }
    lines.push("", `${c.chosen ? "WON " : "lost"} ${c.creativeId} (campaign ${c.campaignId}): ${c.summary}`);
    lines.push(
      `     value ${num(c.valueMicros)} micros = bid ${num(call.request.bid[index]!)} x predicted response ` +
        `${num(call.request.pResponse[index]!)}; rank ${num(c.rank)}`,
      `     quality ${num(c.quality)} = relevance ${num(c.relevance)} x ${num(call.request.relevanceWeight)} ` +
        `(${num(terms[index]!.relevanceTerm)})`,
    );
    for (const p of c.contributions) {
      const note = degraded.has(p.agent) ? "  [degraded]" : "";
      lines.push(
        `       + ${p.agent.padEnd(10)} weight ${num(p.weight)} x confidence ${num(p.confidence)} x score ` +
          `${num(p.score)} = ${num(p.contribution)}${note}`,
      );
    }
  }
  if (vetoed.length === 0) return lines;
  lines.push("", `Vetoed (${vetoed.length}):`);
  if (vetoed.length <= detailedLosers) {
    for (const { c } of vetoed) lines.push(`  ${c.creativeId} (campaign ${c.campaignId}): ${c.vetoes.join("; ")}`);
    return lines;
  }
  // Many vetoes: one line per reason (without the per-candidate detail), most frequent first.
  const byReason = new Map<string, number>();
  for (const { c } of vetoed) {
    for (const v of c.vetoes) {
      const reason = v.replace(/ \(.*\)$/, "");
      byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
    }
  }
  for (const [reason, count] of [...byReason].sort((a, b) => b[1] - a[1])) lines.push(`  ${count} x ${reason}`);
  return lines;
}
