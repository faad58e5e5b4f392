/**
 * The kernel's inputs and outputs <-> their decision-log form (KernelInputs, KernelOutputs in decision_log.proto).
 * Arrays travel as their little-endian memory image, so `kernelCallOf` gives the kernel the very same bits, and
 * encoding costs one copy per array.
 */
import { createHash } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
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
  /** Per candidate, where known (the live call; a decision record does not keep them). */
  readonly advertiserIds?: readonly string[];
}

// Typed arrays use the host's byte order; the record's is little-endian, like WASM memory (wasm-core relies on
// the same when it writes typed arrays into the kernel's memory).
if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) throw new Error("Chorus needs a little-endian host");

type Words = Float32Array | Int32Array | Uint32Array;

const bytesOf = (a: Words) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function wordsOf<T extends Words>(make: new (buffer: ArrayBuffer) => T, bytes: Uint8Array, field: string): T {
  if (bytes.byteLength % 4 !== 0) throw new Error(`damaged decision record: ${field} has ${bytes.byteLength} bytes`);
  // A copy into a buffer of its own: decoded bytes may be a view at any offset of a larger buffer (a Node Buffer's
  // slice() would even share it), and typed arrays need 4-byte alignment.
  return new make(new Uint8Array(bytes).buffer);
}

const f32 = (bytes: Uint8Array, field: string) => wordsOf(Float32Array, bytes, field);
const i32 = (bytes: Uint8Array, field: string) => wordsOf(Int32Array, bytes, field);

/**
 * The per-decision part of KernelInputs: the request's arrays and scalars, and the name of the object that holds
 * the inventory part (`inventoryPart`; the same message type, so readers merge the two).
 */
export function kernelRequestRecord(call: KernelCall, inventoryObject: string): KernelInputs {
  const { request, inventory } = call;
  return create(KernelInputsSchema, {
    inventoryVersion: inventory.version,
    candidates: inventory.candidates,
    dimensions: inventory.dimensions,
    inventoryObject,
    agents: [...call.agents],
    intent: bytesOf(request.intent),
    weights: bytesOf(request.weights),
    confidence: bytesOf(request.confidence),
    scores: bytesOf(request.scores),
    relevanceWeight: request.relevanceWeight,
    vetoMask: bytesOf(request.vetoMask),
    bid: bytesOf(request.bid),
    pResponse: bytesOf(request.pResponse),
    reservePrice: request.reservePrice,
    auctionType: request.auctionType,
    maxAds: request.maxAds,
    maxDurationMs: request.maxDurationMs,
  });
}

function kernelInventoryRecord(call: KernelCall): KernelInputs {
  const { inventory } = call;
  return create(KernelInputsSchema, {
    inventoryVersion: inventory.version,
    candidates: inventory.candidates,
    dimensions: inventory.dimensions,
    creativeIds: [...call.creativeIds],
    campaignIds: [...call.campaignIds],
    embeddings: bytesOf(inventory.embeddings),
    durationMs: bytesOf(inventory.durationMs),
    advertiserId: bytesOf(inventory.advertiserId),
    categoryId: bytesOf(inventory.categoryId),
  });
}

export interface InventoryPart {
  /** Object name: `<inventory version>-<first 16 hex digits of the bytes' SHA-256>`. */
  readonly name: string;
  /** KernelInputs with only the inventory fields set, encoded. */
  readonly bytes: Uint8Array;
}

const inventoryParts = new WeakMap<Float32Array, { version: number; ids: readonly string[]; part: InventoryPart }>();

/**
 * The inventory part of KernelInputs, encoded once per inventory: candidate ids cost about a microsecond each to
 * encode (protobuf-es encodes strings one by one), the embeddings tens of kilobytes, and both only change with
 * the inventory. Keyed by the inventory's embeddings array, checked against its version and id list.
 */
export function inventoryPart(call: KernelCall): InventoryPart {
  const { inventory, creativeIds } = call;
  const cached = inventoryParts.get(inventory.embeddings);
  if (cached && cached.version === inventory.version && cached.ids === creativeIds) return cached.part;
  const bytes = toBinary(KernelInputsSchema, kernelInventoryRecord(call));
  const digest = createHash("sha256").update(bytes).digest("hex").slice(0, 16);
  const part = { name: `${inventory.version}-${digest}`, bytes };
  inventoryParts.set(inventory.embeddings, { version: inventory.version, ids: creativeIds, part });
  return part;
}

export function kernelCallOf(inputs: KernelInputs): KernelCall {
  const inventory: KernelInventory = {
    version: inputs.inventoryVersion,
    candidates: inputs.candidates,
    dimensions: inputs.dimensions,
    embeddings: f32(inputs.embeddings, "embeddings"),
    durationMs: i32(inputs.durationMs, "duration_ms"),
    advertiserId: i32(inputs.advertiserId, "advertiser_id"),
    categoryId: i32(inputs.categoryId, "category_id"),
  };
  const request: KernelRequest = {
    inventoryVersion: inputs.inventoryVersion,
    intent: f32(inputs.intent, "intent"),
    weights: f32(inputs.weights, "weights"),
    confidence: f32(inputs.confidence, "confidence"),
    scores: f32(inputs.scores, "scores"),
    relevanceWeight: inputs.relevanceWeight,
    vetoMask: wordsOf(Uint32Array, inputs.vetoMask, "veto_mask"),
    bid: f32(inputs.bid, "bid"),
    pResponse: f32(inputs.pResponse, "p_response"),
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
    indices: bytesOf(result.indices),
    prices: bytesOf(result.prices),
    ranks: bytesOf(result.ranks),
    qualities: bytesOf(result.qualities),
    relevances: bytesOf(result.relevances),
    contributions: bytesOf(result.contributions),
  });
}

export function kernelResultOf(outputs: KernelOutputs, inventoryVersion: number): KernelResult {
  return {
    moduleVersion: outputs.moduleVersion,
    inventoryVersion,
    count: outputs.count,
    eligibleCount: outputs.eligibleCount,
    vetoedCount: outputs.vetoedCount,
    indices: i32(outputs.indices, "indices"),
    prices: f32(outputs.prices, "prices"),
    ranks: f32(outputs.ranks, "ranks"),
    qualities: f32(outputs.qualities, "qualities"),
    relevances: f32(outputs.relevances, "relevances"),
    contributions: f32(outputs.contributions, "contributions"),
  };
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
