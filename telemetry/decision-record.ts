/**
 * What the decision engine hands the decision log (DecisionEntry), whether a decision is kept (keepReason:
 * sampling by decision id, notable decisions), and the DecisionRecord built from it, with the user and session ids
 * pseudonymised before anything else (the only place a request enters a record).
 */
import { createHmac } from "node:crypto";
import { clone, create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { AgentVote } from "../gen/chorus/v1/agent_pb.ts";
import { DecisionKeepReason, type DecisionRecord, DecisionRecordSchema } from "../gen/chorus/v1/decision_log_pb.ts";
import {
  type DecideRequest,
  DecideRequestSchema,
  type DecideResponse,
  type DegradedAgent,
  type ModuleVersion,
} from "../gen/chorus/v1/decision_pb.ts";
import type { KernelResult } from "../wasm-core/src/kernel-inputs.ts";
import type { DecisionLogConfig } from "./decision-log-config.ts";
import { inventoryPart, type KernelCall, kernelOutputsRecord, kernelRequestRecord } from "./kernel-record.ts";

/** One agent's part in a decision, as the engine saw it. */
export interface AgentEntry {
  agent: string;
  /** The vote that entered the kernel (the fallback's vote for a degraded agent). */
  vote?: AgentVote;
  degraded?: DegradedAgent;
  latencyUs?: number;
}

/** What the decision engine hands to the log once a response is built. */
export interface DecisionEntry {
  decisionId: string;
  decidedAt?: Date;
  /** The request as received; pseudonymised by the log. */
  request: DecideRequest;
  response: DecideResponse;
  coordination: string;
  agents: readonly AgentEntry[];
  /** Defaults to the response's module versions. */
  moduleVersions?: readonly ModuleVersion[];
  /** The kernel call; absent when the decision never reached the kernel (e.g. no eligible candidate). */
  kernel?: KernelCall;
  kernelResult?: KernelResult;
  durationUs?: number;
}

/** Hex HMAC-SHA256 of `id` under `salt`, cut to 128 bits: stable per salt, not reversible without it. */
export function pseudonymize(id: string, salt: string): string {
  if (id === "") return "";
  return createHmac("sha256", salt).update(id, "utf8").digest("hex").slice(0, 32);
}

/** Why a decision is kept, or undefined when sampling leaves it out. */
export function keepReason(
  entry: Pick<DecisionEntry, "decisionId" | "request" | "response" | "agents">,
  config: Pick<DecisionLogConfig, "sampleRate" | "keepNotable">,
): DecisionKeepReason | undefined {
  if (config.keepNotable) {
    if (entry.request.explain) return DecisionKeepReason.EXPLAIN;
    if (entry.response.degradedAgents.length > 0 || entry.agents.some((a) => a.degraded)) {
      return DecisionKeepReason.DEGRADED;
    }
  }
  return sampleFraction(entry.decisionId) < config.sampleRate ? DecisionKeepReason.SAMPLED : undefined;
}

/** FNV-1a of the id mapped to [0, 1): the same decision is in or out of the sample in every process. */
function sampleFraction(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 2 ** 32;
}

/**
 * A vote without its per-candidate arrays (scores, bids, predicted responses, intent vector): when the kernel ran,
 * kernel_inputs holds them exactly as the kernel received them, and encoding them twice would double the cost of
 * the record (protobuf-es writes packed floats one by one).
 */
function withoutKernelArrays(vote: AgentVote): AgentVote {
  return { ...vote, scores: [], bidsMicros: [], predictedResponse: [], intentVector: [] };
}

/**
 * Builds the record (kernel inputs without their inventory part, which DecisionLog stores once per inventory);
 * the only place a request enters it, after its identifiers are pseudonymised.
 */
export function buildDecisionRecord(
  entry: DecisionEntry,
  options: { salt: string; keepReason: DecisionKeepReason; gateway: string },
): DecisionRecord {
  const request = clone(DecideRequestSchema, entry.request);
  if (request.user) request.user.userId = pseudonymize(request.user.userId, options.salt);
  if (request.context) request.context.sessionId = pseudonymize(request.context.sessionId, options.salt);
  return create(DecisionRecordSchema, {
    decisionId: entry.decisionId,
    decidedAt: timestampFromDate(entry.decidedAt ?? new Date()),
    request,
    coordination: entry.coordination,
    agents: entry.agents.map((a) => ({
      agent: a.agent,
      vote: entry.kernel && a.vote ? withoutKernelArrays(a.vote) : a.vote,
      degraded: a.degraded,
      latencyUs: a.latencyUs ?? 0,
    })),
    moduleVersions: [...(entry.moduleVersions ?? entry.response.moduleVersions)],
    kernelInputs: entry.kernel ? kernelRequestRecord(entry.kernel, inventoryPart(entry.kernel).name) : undefined,
    kernelResult: entry.kernelResult ? kernelOutputsRecord(entry.kernelResult) : undefined,
    response: entry.response,
    keepReason: options.keepReason,
    durationUs: entry.durationUs ?? 0,
    gateway: options.gateway,
  });
}
