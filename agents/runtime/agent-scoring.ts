/**
 * How an agent's vote splits around its WASM scoring module (agent scoring ABI, wasm-core/README.md):
 * `extract` does the categorical work in TypeScript (targeting, policy, vetoes, advice) and writes the numeric
 * features of the decision; the module (or `reference`, the same formulas in TypeScript) turns them into a
 * confidence, a score per candidate and an optional extra output; `finish` builds the AgentVote from both.
 * vote(ctx, state) === finish(extract + reference): the agent's plain TypeScript vote.
 */
import type { AgentVote } from "../../gen/chorus/v1/agent_pb.ts";
import type { ScoringAgent, ScoringLayout } from "../../wasm-core/src/agent-scoring-abi.ts";
import type { ScoringBuffers } from "../../wasm-core/src/agent-scoring-lane.ts";
import type { VoteContext } from "./agent-module.ts";

/** One scoring call's input: `n` candidates in buffers laid out as the agent's ScoringLayout. */
export interface ScoringCase {
  readonly n: number;
  readonly context: Float64Array;
  readonly features: Float64Array;
}

export interface AgentScoring<S = unknown, C = unknown> {
  readonly agent: ScoringAgent;
  readonly layout: ScoringLayout;
  /** Writes the decision's context and n feature rows into `input`; returns n and what `finish` needs. */
  extract(ctx: VoteContext, state: S, input: ScoringBuffers): { n: number; carry: C };
  /** The built-in formulas: what the shipped module computes, and the fallback when a module call fails. */
  reference(n: number, input: ScoringBuffers, capacity: number): void;
  /** The vote from the carry and the output ([confidence, scores[capacity], extra[capacity]]). */
  finish(ctx: VoteContext, state: S, carry: C, n: number, output: ScoringOutput): AgentVote;
  /** Inputs for a candidate module's self-test: realistic ranges, fixed by the seed. */
  goldenCases(seed: number): ScoringCase[];
  /** Range of the extra output, when the agent has one (e.g. a probability). */
  readonly extraRange?: readonly [number, number];
}

/** A call's output as the module left it. */
export interface ScoringOutput {
  readonly output: Float64Array;
  readonly capacity: number;
}

export const confidenceOf = (o: ScoringOutput): number => o.output[0]!;

/** Scores 0..n-1 as a plain array (AgentVote.scores). */
export function scoresOf(o: ScoringOutput, n: number): number[] {
  const out = new Array<number>(n);
  for (let c = 0; c < n; c++) out[c] = o.output[1 + c]!;
  return out;
}

export function extrasOf(o: ScoringOutput, n: number): number[] {
  const out = new Array<number>(n);
  for (let c = 0; c < n; c++) out[c] = o.output[1 + o.capacity + c]!;
  return out;
}

/** Buffers for `capacity` candidates in ordinary memory (the TypeScript path and tests). */
export function localBuffers(layout: ScoringLayout, capacity: number): ScoringBuffers {
  return {
    context: new Float64Array(layout.context),
    features: new Float64Array(capacity * layout.features),
    output: new Float64Array(1 + 2 * capacity),
  };
}

/** The agent's vote with the built-in formulas, no module: extract, reference, finish. */
export function referenceVote<S, C>(scoring: AgentScoring<S, C>, ctx: VoteContext, state: S): AgentVote {
  const buffers = localBuffers(scoring.layout, ctx.inventory.size);
  const { n, carry } = scoring.extract(ctx, state, buffers);
  scoring.reference(n, buffers, ctx.inventory.size);
  return scoring.finish(ctx, state, carry, n, { output: buffers.output, capacity: ctx.inventory.size });
}

/**
 * Why a call's output breaks the contract (undefined: it does not): confidence and scores finite in [0, 1], the
 * extra output (at `extraAt`) in the agent's range.
 */
export function outputProblem(
  out: Float64Array,
  n: number,
  extraRange: readonly [number, number] | undefined,
  extraAt = 1 + n,
): string | undefined {
  const inUnit = (x: number) => Number.isFinite(x) && x >= 0 && x <= 1;
  if (!inUnit(out[0]!)) return `confidence ${out[0]} is not in [0, 1]`;
  for (let c = 0; c < n; c++)
    if (!inUnit(out[1 + c]!)) return `score of candidate ${c} is ${out[1 + c]}, not in [0, 1]`;
  if (extraRange) {
    const [lo, hi] = extraRange;
    for (let c = 0; c < n; c++) {
      const x = out[extraAt + c]!;
      if (!(Number.isFinite(x) && x >= lo && x <= hi))
        return `extra output of candidate ${c} is ${x}, not in [${lo}, ${hi}]`;
    }
  }
  return undefined;
}
