/** Input checks shared by every path into the kernel (reference, inline instance, pool), so all refuse alike. */
import { MAX_ADS } from "./kernel-abi.ts";
import { KernelInputError, KernelInventoryMismatchError } from "./kernel-errors.ts";
import type { KernelCapacity, KernelInventory, KernelRequest } from "./kernel-inputs.ts";

const INT32_MAX = 0x7fffffff;
const UINT32_MAX = 0xffffffff;

function isIndex(x: number, max: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= max;
}

function expectLength(name: string, actual: number, expected: number): void {
  if (actual !== expected) throw new KernelInputError(`${name} has ${actual} elements, expected ${expected}`);
}

export function checkCapacity(capacity: KernelCapacity): void {
  const { maxCandidates, maxDimensions, maxAgents } = capacity;
  if (!isIndex(maxCandidates, 1 << 20) || maxCandidates < 1)
    throw new KernelInputError("maxCandidates must be 1..2^20");
  if (!isIndex(maxDimensions, 4096) || maxDimensions < 1) throw new KernelInputError("maxDimensions must be 1..4096");
  if (!isIndex(maxAgents, 256)) throw new KernelInputError("maxAgents must be 0..256");
}

export function checkInventory(inventory: KernelInventory, capacity?: KernelCapacity): void {
  const { version, candidates: n, dimensions: d } = inventory;
  if (!isIndex(version, UINT32_MAX)) throw new KernelInputError("inventory version must be an integer 0..2^32-1");
  if (!isIndex(n, capacity?.maxCandidates ?? INT32_MAX)) {
    throw new KernelInputError(`inventory has ${n} candidates, capacity is ${capacity?.maxCandidates}`);
  }
  if (!isIndex(d, capacity?.maxDimensions ?? INT32_MAX)) {
    throw new KernelInputError(`inventory has ${d} dimensions, capacity is ${capacity?.maxDimensions}`);
  }
  expectLength("embeddings", inventory.embeddings.length, n * d);
  expectLength("durationMs", inventory.durationMs.length, n);
  expectLength("advertiserId", inventory.advertiserId.length, n);
  expectLength("categoryId", inventory.categoryId.length, n);
  for (const duration of inventory.durationMs) {
    if (duration < 0) throw new KernelInputError("durationMs must be >= 0");
  }
}

/** The shape of the inventory a request is checked against (the pool keeps only this on its main thread). */
export interface InventoryShape {
  readonly version: number;
  readonly candidates: number;
  readonly dimensions: number;
}

export function checkRequest(
  request: KernelRequest,
  inventory: InventoryShape | undefined,
  capacity?: KernelCapacity,
): void {
  if (inventory === undefined || request.inventoryVersion !== inventory.version) {
    const resident = inventory === undefined ? "none" : String(inventory.version);
    throw new KernelInventoryMismatchError(
      `request is for inventory ${request.inventoryVersion}, resident is ${resident}`,
    );
  }
  const n = inventory.candidates;
  const a = request.weights.length;
  if (capacity !== undefined && a > capacity.maxAgents) {
    throw new KernelInputError(`request has ${a} agents, capacity is ${capacity.maxAgents}`);
  }
  expectLength("intent", request.intent.length, inventory.dimensions);
  expectLength("confidence", request.confidence.length, a);
  expectLength("scores", request.scores.length, a * n);
  expectLength("vetoMask", request.vetoMask.length, n);
  expectLength("bid", request.bid.length, n);
  expectLength("pResponse", request.pResponse.length, n);
  if (request.auctionType !== 0 && request.auctionType !== 1) throw new KernelInputError("auctionType must be 0 or 1");
  if (!isIndex(request.maxAds, MAX_ADS)) throw new KernelInputError(`maxAds must be an integer 0..${MAX_ADS}`);
  if (!isIndex(request.maxDurationMs, INT32_MAX))
    throw new KernelInputError("maxDurationMs must be a non-negative int32");
  if (typeof request.relevanceWeight !== "number" || typeof request.reservePrice !== "number") {
    throw new KernelInputError("relevanceWeight and reservePrice must be numbers");
  }
}
