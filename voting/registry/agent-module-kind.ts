/**
 * An agent's scoring module as a module kind (agent scoring ABI, wasm-core/README.md): no imports, the ABI's
 * exports with the agent's layout, and a self-test on the agent's golden inputs in a worker with a time limit
 * per call. The self-test checks invariants, not outputs, so a new version may change behaviour: every call
 * succeeds, confidence and scores are finite and in [0, 1], the extra output is in the agent's range, a second
 * run of every case gives the same bits (determinism), and memory does not grow after the first call.
 */

import { type CheckFailure, type ModuleKind, withSelfTestBackstop } from "../../modules/module-kind.ts";
import { RejectionReason } from "../../modules/module-rejected-error.ts";
import { AGENT_SCORING_ABI_VERSION, checkScoringExports } from "../../wasm-core/src/agent-scoring-abi.ts";
import { AgentScoringLane } from "../../wasm-core/src/agent-scoring-lane.ts";
import { type AgentScoring, outputProblem, type ScoringCase } from "../scoring/agent-scoring.ts";
import { AGENT_SCORINGS, agentModuleName } from "./agent-scorings.ts";

/** Seed of every agent's golden self-test inputs (fixed: the same cases in every process). */
export const GOLDEN_SEED = 20_261_122;

export function agentModuleKind(scoring: AgentScoring): ModuleKind {
  const cases = scoring.goldenCases(GOLDEN_SEED);
  return {
    abiVersion: AGENT_SCORING_ABI_VERSION,
    allowedImports: new Set(),
    async checkExports(bytes) {
      const failure = checkScoringExports(bytes, scoring.agent);
      if (!failure) return undefined;
      return {
        reason: failure.abi ? RejectionReason.AbiMismatch : RejectionReason.MissingExport,
        detail: failure.detail,
      };
    },
    async selfTest(bytes, _version, budgetMs) {
      const callTimeoutMs = Math.max(10, Math.floor(budgetMs / (2 * cases.length)));
      return withSelfTestBackstop(runGolden(bytes, scoring, cases, callTimeoutMs, budgetMs), 2 * budgetMs);
    },
  };
}

async function runGolden(
  bytes: Uint8Array,
  scoring: AgentScoring,
  cases: readonly ScoringCase[],
  callTimeoutMs: number,
  budgetMs: number,
): Promise<CheckFailure | undefined> {
  const capacity = Math.max(1, ...cases.map((c) => c.n));
  let lane: AgentScoringLane;
  try {
    lane = await AgentScoringLane.start({
      bytes,
      layout: scoring.layout,
      capacity,
      callTimeoutMs,
      startTimeoutMs: budgetMs,
    });
  } catch (err) {
    const detail = `could not start: ${(err as Error).message}`;
    const timeout = /did not start within/.test(detail);
    return { reason: timeout ? RejectionReason.SelfTestTimeout : RejectionReason.SelfTestFailed, detail };
  }
  try {
    let memoryAfterFirst = -1;
    for (const [k, c] of cases.entries()) {
      const outputs: Float64Array[] = [];
      for (let run = 0; run < 2; run++) {
        const buffers = lane.buffers;
        if (!buffers) return { reason: RejectionReason.SelfTestFailed, detail: `case ${k}: worker lost` };
        buffers.context.set(c.context);
        buffers.features.set(c.features);
        const outcome = await lane.callAsync(c.n);
        if (outcome === "timeout")
          return {
            reason: RejectionReason.SelfTestTimeout,
            detail: `case ${k} (n=${c.n}) took over ${callTimeoutMs} ms`,
          };
        if (outcome !== "ok")
          return { reason: RejectionReason.SelfTestFailed, detail: `case ${k} (n=${c.n}): ${lane.lastError}` };
        if (memoryAfterFirst < 0) memoryAfterFirst = lane.memoryBytes;
        else if (lane.memoryBytes > memoryAfterFirst)
          return {
            reason: RejectionReason.SelfTestFailed,
            detail: `case ${k}: memory grew from ${memoryAfterFirst} to ${lane.memoryBytes} bytes during calls`,
          };
        outputs.push(used(buffers.output, c.n, capacity));
      }
      const problem = outputProblem(outputs[0]!, c.n, scoring.extraRange);
      if (problem) return { reason: RejectionReason.SelfTestFailed, detail: `case ${k} (n=${c.n}): ${problem}` };
      if (!sameBits(outputs[0]!, outputs[1]!))
        return { reason: RejectionReason.SelfTestFailed, detail: `case ${k} (n=${c.n}): not deterministic` };
    }
    return undefined;
  } finally {
    await lane.close();
  }
}

/** [confidence, scores[n], extras[n]] copied out of an output buffer of `capacity`. */
function used(output: Float64Array, n: number, capacity: number): Float64Array {
  const out = new Float64Array(1 + 2 * n);
  out.set(output.subarray(0, 1 + n));
  out.set(output.subarray(1 + capacity, 1 + capacity + n), 1 + n);
  return out;
}

function sameBits(a: Float64Array, b: Float64Array): boolean {
  const x = new BigUint64Array(a.buffer, a.byteOffset, a.length);
  const y = new BigUint64Array(b.buffer, b.byteOffset, b.length);
  return x.every((v, i) => v === y[i]);
}

/** Every module kind this host knows: the kernel and one per scoring agent. */
export function agentModuleKinds(): Record<string, ModuleKind> {
  return Object.fromEntries(
    Object.entries(AGENT_SCORINGS).map(([agent, scoring]) => [agentModuleName(agent), agentModuleKind(scoring)]),
  );
}
