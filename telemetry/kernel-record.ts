/**
 * The kernel's inputs and outputs <-> their decision-log form (KernelInputs, KernelOutputs in decision_log.proto).
 * Floats travel as packed f32, so `kernelCallOf(kernelInputsRecord(x))` gives the kernel the very same bits.
 */
import { create } from "@bufbuild/protobuf";
import {
  type KernelInputs,
  KernelInputsSchema,
  type KernelOutputs,
  KernelOutputsSchema,
} from "../gen/chorus/v1/decision_log_pb.ts";
import type { AuctionType, KernelInventory, KernelRequest, KernelResult } from "../wasm-core/src/kernel-inputs.ts";

/** One kernel call as the decision engine made it, with the names that give its indices meaning. */
export interface KernelCall {
  readonly inventory: KernelInventory;
  readonly request: KernelRequest;
  /** The kernel's agent axis: agents[a] owns weights[a], confidence[a] and scores[a*N .. a*N+N). */
  readonly agents: readonly string[];
  /** Per candidate, in inventory order. */
  readonly creativeIds: readonly string[];
  readonly campaignIds: readonly string[];
}

export function kernelInputsRecord(call: KernelCall): KernelInputs {
  const { inventory, request } = call;
  return create(KernelInputsSchema, {
    inventoryVersion: inventory.version,
    candidates: inventory.candidates,
    dimensions: inventory.dimensions,
    creativeIds: [...call.creativeIds],
    campaignIds: [...call.campaignIds],
    embeddings: Array.from(inventory.embeddings),
    durationMs: Array.from(inventory.durationMs),
    advertiserId: Array.from(inventory.advertiserId),
    categoryId: Array.from(inventory.categoryId),
    agents: [...call.agents],
    intent: Array.from(request.intent),
    weights: Array.from(request.weights),
    confidence: Array.from(request.confidence),
    scores: Array.from(request.scores),
    relevanceWeight: request.relevanceWeight,
    vetoMask: Array.from(request.vetoMask),
    bid: Array.from(request.bid),
    pResponse: Array.from(request.pResponse),
    reservePrice: request.reservePrice,
    auctionType: request.auctionType,
    maxAds: request.maxAds,
    maxDurationMs: request.maxDurationMs,
  });
}

export function kernelCallOf(inputs: KernelInputs): KernelCall {
  const inventory: KernelInventory = {
    version: inputs.inventoryVersion,
    candidates: inputs.candidates,
    dimensions: inputs.dimensions,
    embeddings: Float32Array.from(inputs.embeddings),
    durationMs: Int32Array.from(inputs.durationMs),
    advertiserId: Int32Array.from(inputs.advertiserId),
    categoryId: Int32Array.from(inputs.categoryId),
  };
  const request: KernelRequest = {
    inventoryVersion: inputs.inventoryVersion,
    intent: Float32Array.from(inputs.intent),
    weights: Float32Array.from(inputs.weights),
    confidence: Float32Array.from(inputs.confidence),
    scores: Float32Array.from(inputs.scores),
    relevanceWeight: inputs.relevanceWeight,
    vetoMask: Uint32Array.from(inputs.vetoMask),
    bid: Float32Array.from(inputs.bid),
    pResponse: Float32Array.from(inputs.pResponse),
    reservePrice: inputs.reservePrice,
    auctionType: inputs.auctionType as AuctionType,
    maxAds: inputs.maxAds,
    maxDurationMs: inputs.maxDurationMs,
  };
  return {
    inventory,
    request,
    agents: inputs.agents,
    creativeIds: inputs.creativeIds,
    campaignIds: inputs.campaignIds,
  };
}

export function kernelOutputsRecord(result: KernelResult): KernelOutputs {
  return create(KernelOutputsSchema, {
    moduleVersion: result.moduleVersion,
    count: result.count,
    eligibleCount: result.eligibleCount,
    vetoedCount: result.vetoedCount,
    indices: Array.from(result.indices),
    prices: Array.from(result.prices),
    ranks: Array.from(result.ranks),
    qualities: Array.from(result.qualities),
    relevances: Array.from(result.relevances),
    contributions: Array.from(result.contributions),
  });
}

/** Copies a request's arrays, so that a caller may reuse its buffers once a decision is handed to the log. */
export function snapshotKernelRequest(request: KernelRequest): KernelRequest {
  return {
    ...request,
    intent: request.intent.slice(),
    weights: request.weights.slice(),
    confidence: request.confidence.slice(),
    scores: request.scores.slice(),
    vetoMask: request.vetoMask.slice(),
    bid: request.bid.slice(),
    pResponse: request.pResponse.slice(),
  };
}
