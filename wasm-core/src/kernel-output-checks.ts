/**
 * The kernel's output checked against its own request before anything is served or charged: a module (shipped or
 * published) is code that may be wrong or hostile, so its pod is a claim, not a fact. One function, used by the
 * module router on every result of every role (modules/module-router.ts); a violation fails that call.
 */
import { MAX_ADS } from "./kernel-abi.ts";
import { KernelError, KernelErrorCode } from "./kernel-errors.ts";
import type { KernelInventory, KernelRequest, KernelResult } from "./kernel-inputs.ts";
import { candidateValue } from "./kernel-terms.ts";

/** A price may differ from the f32 bounds by this share (a module compiled another way rounds differently). */
const PRICE_TOLERANCE = 1e-5;

/** A kernel result that breaks the output contract: counted as a failure of the version that produced it. */
export class KernelOutputError extends KernelError {
  override name = "KernelOutputError";
  constructor(message: string) {
    super(KernelErrorCode.InvalidOutput, message);
  }
}

function within(x: number, low: number, high: number): boolean {
  const slack = PRICE_TOLERANCE * Math.max(1, Math.abs(low), Math.abs(high));
  return x >= low - slack && x <= high + slack;
}

/**
 * Why `result` cannot be the answer to `request` on `inventory`, or undefined when it can: pod size within the
 * request's limit, winner indices in range and unique, no vetoed winner, price finite, at least the reserve and at
 * most the winner's value (bid x response probability, so never above the bid for pResponse <= 1), the pod within
 * the break's duration, no two winners of one advertiser or one category, every reported number finite.
 */
export function kernelOutputProblem(
  request: KernelRequest,
  inventory: KernelInventory,
  result: KernelResult,
): string | undefined {
  const n = inventory.candidates;
  const { count } = result;
  if (result.inventoryVersion !== inventory.version)
    return `result is for inventory ${result.inventoryVersion}, request for ${inventory.version}`;
  if (!Number.isInteger(count) || count < 0 || count > Math.min(request.maxAds, MAX_ADS, n))
    return `pod size ${count} outside 0..${Math.min(request.maxAds, MAX_ADS, n)}`;
  for (const [name, value] of [
    ["eligible", result.eligibleCount],
    ["vetoed", result.vetoedCount],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > n) return `${name} count ${value} outside 0..${n}`;
  }
  const agents = request.weights.length;
  for (const [name, array, length] of [
    ["indices", result.indices, count],
    ["prices", result.prices, count],
    ["ranks", result.ranks, count],
    ["qualities", result.qualities, count],
    ["relevances", result.relevances, count],
    ["contributions", result.contributions, count * (agents + 1)],
  ] as const) {
    if (array.length < length) return `${name} has ${array.length} entries for a pod of ${count}`;
    if (name === "indices") continue;
    for (let i = 0; i < length; i++)
      if (!Number.isFinite(array[i])) return `${name}[${i}] is ${array[i]}, not a finite number`;
  }
  const reserve = Math.fround(request.reservePrice);
  const seen = new Set<number>();
  let usedMs = 0;
  for (let t = 0; t < count; t++) {
    const c = result.indices[t]!;
    if (!Number.isInteger(c) || c < 0 || c >= n) return `winner ${t} is candidate ${c}, outside 0..${n - 1}`;
    if (seen.has(c)) return `candidate ${c} wins twice`;
    if (request.vetoMask[c] !== 0) return `winner ${t} (candidate ${c}) is vetoed (mask ${request.vetoMask[c]})`;
    const price = result.prices[t]!;
    const value = candidateValue(request, c);
    if (!within(price, reserve, value))
      return `winner ${t} (candidate ${c}) priced ${price}, outside reserve ${reserve} .. value ${value} (bid ${request.bid[c]})`;
    for (const o of seen) {
      if (inventory.advertiserId[o] === inventory.advertiserId[c])
        return `candidates ${o} and ${c} share advertiser ${inventory.advertiserId[c]}`;
      if (inventory.categoryId[o] === inventory.categoryId[c])
        return `candidates ${o} and ${c} share category ${inventory.categoryId[c]}`;
    }
    seen.add(c);
    usedMs += inventory.durationMs[c]!;
  }
  if (usedMs > request.maxDurationMs) return `pod lasts ${usedMs} ms, the break ${request.maxDurationMs} ms`;
  return undefined;
}

/** Throws KernelOutputError naming the first problem (see kernelOutputProblem). */
export function checkKernelOutput(request: KernelRequest, inventory: KernelInventory, result: KernelResult): void {
  const problem = kernelOutputProblem(request, inventory, result);
  if (problem !== undefined) throw new KernelOutputError(`kernel ${result.moduleVersion} output rejected: ${problem}`);
}
