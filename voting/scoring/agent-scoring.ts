/**
 * How an agent's vote splits around its WASM scoring module (agent scoring ABI, wasm-core/README.md):
 * `extract` does the categorical work in TypeScript (targeting, policy, vetoes, advice) and writes the numeric
 * features of the decision; the module (or `reference`, the same formulas in TypeScript) turns them into a
 * confidence, a score per candidate and an optional extra output; `finish` builds the AgentVote from both.
 * vote(ctx, state) === finish(extract + reference): the agent's plain TypeScript vote.
 */
import { create } from "@bufbuild/protobuf";
import { type AgentVote, AgentVoteSchema } from "../../gen/chorus/v1/agent_pb.ts";
import type { ScoringAgent, ScoringLayout } from "../../wasm-core/src/agent-scoring-abi.ts";
import type { ScoringBuffers } from "../../wasm-core/src/agent-scoring-lane.ts";
import type { VoteContext } from "../contract/agent-module.ts";

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

/** A zero AgentVote, copied by newVote. */
const ZERO_VOTE = create(AgentVoteSchema);
const VOTE_LISTS = AgentVoteSchema.fields.filter((f) => f.fieldKind === "list").map((f) => f.localName);
const VOTE_MAPS = AgentVoteSchema.fields.filter((f) => f.fieldKind === "map").map((f) => f.localName);

/**
 * A new zero AgentVote, as create(AgentVoteSchema) makes it (same fields, order and values), for a fraction of the
 * cost: create() adds every field one by one (and with an init object walks the schema again), ~2 µs per vote,
 * six votes per decision. A copy of a zero vote, with fresh lists and maps (the template's must never be shared).
 */
export function newVote(): AgentVote {
  const vote = { ...ZERO_VOTE } as Record<string, unknown>;
  for (let i = 0; i < VOTE_LISTS.length; i++) vote[VOTE_LISTS[i]!] = [];
  for (let i = 0; i < VOTE_MAPS.length; i++) vote[VOTE_MAPS[i]!] = {};
  return vote as unknown as AgentVote;
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
  const buffers = scratchBuffers(scoring, ctx.inventory.size);
  const { n, carry } = scoring.extract(ctx, state, buffers);
  scoring.reference(n, buffers, ctx.inventory.size);
  return scoring.finish(ctx, state, carry, n, { output: buffers.output, capacity: ctx.inventory.size });
}

/**
 * referenceVote's buffers, reused vote after vote (per agent and capacity): a vote is synchronous and nothing keeps
 * the buffers past it (finish copies what it needs), and every extract writes all the inputs the formulas read, so
 * a reused buffer scores like a new one. Allocating them per vote (zeroed, ~10 KB for intent) cost more than some
 * agents' whole extract.
 */
// biome-ignore lint/suspicious/noExplicitAny: keyed by any agent's scoring.
const scratch = new WeakMap<AgentScoring<any, any>, Map<number, ScoringBuffers>>();
/** Capacities remembered per agent: retrieved slices come in a bounded set of sizes. */
const SCRATCH_SIZES = 256;
// biome-ignore lint/suspicious/noExplicitAny: see scratch.
function scratchBuffers(scoring: AgentScoring<any, any>, capacity: number): ScoringBuffers {
  let bySize = scratch.get(scoring);
  if (!bySize) {
    bySize = new Map();
    scratch.set(scoring, bySize);
  }
  // The output's layout depends on the capacity (extras at 1 + capacity): exactly the inventory's size, as before.
  // Kept per size: retrieval slices differ in size from decision to decision, and one buffer resized at every
  // change was allocated (and zeroed, and collected) on most votes.
  let buffers = bySize.get(capacity);
  if (!buffers) {
    if (bySize.size >= SCRATCH_SIZES) bySize.clear();
    buffers = localBuffers(scoring.layout, capacity);
    bySize.set(capacity, buffers);
  }
  return buffers;
}

const inUnit = (x: number) => Number.isFinite(x) && x >= 0 && x <= 1;

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
