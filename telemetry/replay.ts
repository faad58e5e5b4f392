/**
 * Replay: runs a kernel on a decision's recorded inputs and compares the pod with the recorded one bit for bit
 * (chosen candidates, and every price, rank, quality, relevance and contribution as f32 bits).
 * With the recorded kernel version it proves the decision is reproducible; with another it shows what that
 * version would have decided.
 */
import type { DecisionRecord } from "../gen/chorus/v1/decision_log_pb.ts";
import type { KernelResult } from "../wasm-core/src/kernel-inputs.ts";
import { loadKernel } from "../wasm-core/src/mod.ts";
import { kernelCallOf, kernelResultOf } from "./kernel-record.ts";
import { KERNEL_MODULE, type KernelSource } from "./kernel-source.ts";

export interface ReplayResult {
  /** True when every output matches the record bit for bit. */
  reproduced: boolean;
  /** The kernel version that replayed. */
  moduleVersion: string;
  recorded: KernelResult;
  replayed: KernelResult;
  /** One line per mismatch, for people; empty when reproduced. */
  differences: string[];
}

export class ReplayError extends Error {
  override readonly name = "ReplayError";
}

/** The kernel version a decision was made with, as recorded ("" when the record names none). */
export function recordedKernelVersion(record: DecisionRecord): string {
  return (
    record.moduleVersions.find((m) => m.module === KERNEL_MODULE)?.version ?? record.kernelResult?.moduleVersion ?? ""
  );
}

export function replayDecision(record: DecisionRecord, kernel: KernelSource): ReplayResult {
  const inputs = record.kernelInputs;
  if (!inputs || !record.kernelResult) {
    throw new ReplayError(`decision ${record.decisionId} never reached the kernel: nothing to replay`);
  }
  const call = kernelCallOf(inputs);
  const recorded = kernelResultOf(record.kernelResult, inputs.inventoryVersion);
  const instance = loadKernel(kernel.bytes, {
    maxCandidates: Math.max(1, inputs.candidates),
    maxDimensions: Math.max(1, inputs.dimensions),
    maxAgents: inputs.agents.length,
  });
  instance.setInventory(call.inventory);
  const replayed = instance.decide(call.request, kernel.version);
  const differences = compareOutputs(recorded, replayed, (c) => inputs.creativeIds[c] ?? `#${c}`);
  return { reproduced: differences.length === 0, moduleVersion: kernel.version, recorded, replayed, differences };
}

const f32Bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0]!;
const show = (x: number) => `${x} (0x${f32Bits(x).toString(16).padStart(8, "0")})`;

function compareOutputs(recorded: KernelResult, replayed: KernelResult, name: (c: number) => string): string[] {
  const out: string[] = [];
  for (const field of ["count", "eligibleCount", "vetoedCount"] as const) {
    if (recorded[field] !== replayed[field])
      out.push(`${field}: recorded ${recorded[field]}, replayed ${replayed[field]}`);
  }
  const positions = Math.max(recorded.count, replayed.count);
  for (let t = 0; t < positions; t++) {
    const was = recorded.indices[t];
    const now = replayed.indices[t];
    if (was !== now) {
      out.push(
        `pod position ${t + 1}: recorded ${was === undefined ? "nothing" : name(was)}, ` +
          `replayed ${now === undefined ? "nothing" : name(now)}`,
      );
    }
  }
  const floats = [
    ["price", recorded.prices, replayed.prices],
    ["rank", recorded.ranks, replayed.ranks],
    ["quality", recorded.qualities, replayed.qualities],
    ["relevance", recorded.relevances, replayed.relevances],
    ["contribution", recorded.contributions, replayed.contributions],
  ] as const;
  for (const [label, was, now] of floats) {
    const length = Math.max(was.length, now.length);
    for (let i = 0; i < length; i++) {
      const a = was[i];
      const b = now[i];
      if (a === undefined || b === undefined || f32Bits(a) !== f32Bits(b)) {
        out.push(
          `${label}[${i}]: recorded ${a === undefined ? "nothing" : show(a)}, replayed ${b === undefined ? "nothing" : show(b)}`,
        );
      }
    }
  }
  return out;
}
