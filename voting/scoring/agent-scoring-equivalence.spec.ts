/**
 * The shipped scoring modules (wasm-core/build/agents/*.wasm) against the agents' TypeScript formulas
 * (AgentScoring.reference), property-based. Tolerance: |wasm - ts| <= 1e-12 * max(1, |wasm|, |ts|) for every
 * output (confidence, scores, extra); NaN must match NaN. The only non-bit-exact step is Relevance's exp (the
 * AssemblyScript and V8 implementations may differ in the last bit).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AgentScoringExports,
  readAgentScoringWasm,
  SCORING_AGENTS,
  type ScoringAgent,
} from "../../wasm-core/src/agent-scoring-abi.ts";
import { AGENT_SCORINGS } from "../registry/agent-scorings.ts";
import { localBuffers } from "./agent-scoring.ts";

const CAPACITY = 600;
const TOLERANCE = 1e-12;

function instantiate(agent: ScoringAgent): AgentScoringExports {
  const instance = new WebAssembly.Instance(
    new WebAssembly.Module(readAgentScoringWasm(agent) as Uint8Array<ArrayBuffer>),
    {},
  );
  const exports = instance.exports as unknown as AgentScoringExports;
  expect(exports.configure(CAPACITY)).toBe(0);
  return exports;
}

/** Per agent: inputs in and beyond the ranges the agent extracts (NaN, infinities, negatives, zero). */
const anyDouble = fc.double({ noDefaultInfinity: false, noNaN: false });
const arbitraries: Record<ScoringAgent, fc.Arbitrary<{ context: number[]; rows: number[][] }>> = {
  relevance: fc.record({
    context: fc.tuple(fc.oneof(fc.integer({ min: 0, max: 10_000 }), anyDouble)).map((t) => [...t]),
    rows: fc.array(
      fc.oneof(
        fc
          .tuple(
            fc.double({ min: -40, max: 40, noNaN: true }),
            fc.double({ min: -7, max: 0, noNaN: true }),
            fc.integer({ min: 0, max: 15 }),
            fc.constantFrom(0, 1),
          )
          .map((r) => [...r]),
        fc.tuple(anyDouble, anyDouble, fc.integer({ min: 0, max: 15 }), fc.constantFrom(0, 1)).map((r) => [...r]),
        // Ties: the same logit many times (the shortlist's cutoff falls inside a run of equal values).
        fc.constantFrom<number[]>([0.5, -2, 2, 0], [0.5, -2, 3, 0], [0, 0, 1, 1]),
      ),
      { maxLength: CAPACITY },
    ),
  }),
  timing: fc.record({
    context: fc
      .tuple(
        fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), anyDouble),
        fc.oneof(fc.integer({ min: 1, max: 600_000 }), anyDouble),
        fc.constantFrom(0, 1),
      )
      .map((t) => [...t]),
    rows: fc.array(
      fc.oneof(fc.integer({ min: 0, max: 600_000 }), anyDouble).map((d) => [d]),
      { maxLength: CAPACITY },
    ),
  }),
  intent: fc.record({
    context: fc
      .tuple(
        fc.constantFrom(0, 1),
        fc.integer({ min: 0, max: 30 }),
        fc.array(fc.oneof(fc.constant(0), fc.float({ noNaN: true, min: -1, max: 1 }), anyDouble), {
          minLength: 32,
          maxLength: 32,
        }),
      )
      .map(([personalised, events, intent]) => [personalised, events, ...intent]),
    rows: fc.array(
      fc.array(fc.oneof(fc.float({ noNaN: true, min: -1, max: 1 }), anyDouble), { minLength: 32, maxLength: 32 }),
      { maxLength: 120 },
    ),
  }),
  bidding: fc.record({
    context: fc.constant([]),
    rows: fc.array(
      fc
        .tuple(
          fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(0)),
          fc.integer({ min: 0, max: 5_000_000 }),
          fc.oneof(fc.double({ min: 0, max: 3, noNaN: true }), anyDouble),
          fc.oneof(fc.double({ min: 0, max: 5, noNaN: true }), anyDouble),
          fc.integer({ min: 0, max: 100_000_000 }),
        )
        .map((r) => [...r]),
      { maxLength: CAPACITY },
    ),
  }),
  creative: fc.record({
    context: fc.constant([]),
    rows: fc.array(
      fc.tuple(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 4 })).map((r) => [...r]),
      {
        maxLength: CAPACITY,
      },
    ),
  }),
  budget: fc.record({
    context: fc.constant([]),
    rows: fc.array(
      fc
        .tuple(fc.constantFrom(0, 1), fc.oneof(fc.double({ min: 0, max: 5, noNaN: true }), anyDouble))
        .map((r) => [...r]),
      { maxLength: CAPACITY },
    ),
  }),
};

function close(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  return Math.abs(a - b) <= TOLERANCE * Math.max(1, Math.abs(a), Math.abs(b));
}

describe("agent scoring modules - equivalence with the TypeScript formulas", () => {
  for (const agent of SCORING_AGENTS) {
    it(`agent scoring - ${agent}: the shipped module reproduces the TypeScript scores, confidence and extras`, () => {
      const scoring = AGENT_SCORINGS[agent]!;
      const exports = instantiate(agent);
      const { context: C, features: F } = scoring.layout;
      fc.assert(
        fc.property(arbitraries[agent], ({ context, rows }) => {
          const n = rows.length;
          const ts = localBuffers(scoring.layout, CAPACITY);
          ts.context.set(context);
          for (let c = 0; c < n; c++) ts.features.set(rows[c]!, c * F);
          scoring.reference(n, ts, CAPACITY);
          const memory = () => exports.memory.buffer;
          new Float64Array(memory(), exports.input(), C + n * F).set([
            ...ts.context,
            ...ts.features.subarray(0, n * F),
          ]);
          expect(exports.score(n)).toBe(0);
          const out = new Float64Array(memory(), exports.output(), 1 + 2 * CAPACITY);
          const at = (i: number) => [out[i]!, ts.output[i]!] as const;
          const indices = [0, ...Array.from({ length: n }, (_, c) => 1 + c)];
          if (scoring.extraRange) indices.push(...Array.from({ length: n }, (_, c) => 1 + CAPACITY + c));
          for (const i of indices) {
            const [wasm, reference] = at(i);
            if (!close(wasm, reference)) throw new Error(`output ${i}: wasm ${wasm}, TypeScript ${reference} (n=${n})`);
          }
        }),
        { numRuns: 400 },
      );
    });
  }

  it("agent scoring - a module call allocates nothing: memory stays the same over 100,000 calls", () => {
    const exports = instantiate("relevance");
    const before = exports.memory.buffer.byteLength;
    const input = new Float64Array(exports.memory.buffer, exports.input(), 1 + 200 * 4);
    for (let c = 0; c < 200; c++) input.set([c / 50 - 2, -3, 2 + (c % 3), 0], 1 + c * 4);
    let failed = 0;
    for (let i = 0; i < 100_000; i++) if (exports.score(200) !== 0) failed++;
    expect(failed).toBe(0);
    expect(exports.memory.buffer.byteLength).toBe(before);
  });
});
