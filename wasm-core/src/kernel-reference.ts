/**
 * The kernel's semantics in plain TypeScript: the specification the WASM builds are tested against.
 * Written for reading, not speed (a full sort instead of the kernel's lazy heap; same order, since the
 * order is total). Every arithmetic step is rounded to f32 in the kernel's pinned order, so results are
 * expected to match the WASM builds bit for bit; the tests still only require the stated tolerance.
 */
import { checkInventory, checkRequest } from "./kernel-checks.ts";
import type { KernelInventory, KernelRequest, KernelResult } from "./kernel-inputs.ts";

const f32 = Math.fround;

/** dot(x, y) with four partial sums: element j goes to sum j % 4; result (s0 + s1) + (s2 + s3). */
function dot(x: Float32Array, y: Float32Array, yStart: number, length: number): number {
  const sums = [0, 0, 0, 0];
  for (let j = 0; j < length; j++) {
    sums[j & 3] = f32(sums[j & 3] + f32(x[j] * y[yStart + j]));
  }
  return f32(f32(sums[0] + sums[1]) + f32(sums[2] + sums[3]));
}

export function decideReference(inventory: KernelInventory, request: KernelRequest): KernelResult {
  checkInventory(inventory);
  checkRequest(request, inventory);
  const n = inventory.candidates;
  const d = inventory.dimensions;
  const agents = request.weights.length;
  const relevanceWeight = f32(request.relevanceWeight);
  const reservePrice = f32(request.reservePrice);
  const coefficient = Array.from(request.weights, (w, a) => f32(w * request.confidence[a]));

  // 1-3. relevance, quality (relevance term, then agents in order), value and rank.
  const relevance = new Float32Array(n);
  const quality = new Float32Array(n);
  const value = new Float32Array(n);
  const rank = new Float32Array(n);
  for (let c = 0; c < n; c++) {
    relevance[c] = dot(request.intent, inventory.embeddings, c * d, d);
    let q = f32(relevanceWeight * relevance[c]);
    for (let a = 0; a < agents; a++) q = f32(q + f32(coefficient[a] * request.scores[a * n + c]));
    quality[c] = q;
    value[c] = f32(request.bid[c] * request.pResponse[c]);
    rank[c] = f32(value[c] * q);
  }

  // Eligibility, written as positive tests so NaN anywhere excludes.
  let vetoedCount = 0;
  const eligible: number[] = [];
  for (let c = 0; c < n; c++) {
    if (request.vetoMask[c] !== 0) {
      vetoedCount++;
    } else if (
      quality[c] > 0 &&
      value[c] >= reservePrice &&
      rank[c] > 0 &&
      inventory.durationMs[c] <= request.maxDurationMs
    ) {
      eligible.push(c);
    }
  }

  // 4. Global order: rank descending, ties by lower index. Pod: walk it, take what fits and does not clash.
  eligible.sort((x, y) => (rank[x] > rank[y] ? -1 : rank[x] < rank[y] ? 1 : x - y));
  const chosen: number[] = [];
  const prices: number[] = [];
  let usedMs = 0;
  for (let position = 0; position < eligible.length && chosen.length < request.maxAds; position++) {
    const c = eligible[position];
    const duration = inventory.durationMs[c];
    if (usedMs + duration > request.maxDurationMs) continue;
    const clash = chosen.some(
      (o) =>
        inventory.advertiserId[o] === inventory.advertiserId[c] || inventory.categoryId[o] === inventory.categoryId[c],
    );
    if (clash) continue;

    // 5. Price against the next candidate in the global order, taken or not.
    const next = eligible[position + 1];
    let price: number;
    if (request.auctionType === 1) {
      price = value[c];
    } else if (next === undefined) {
      price = reservePrice;
    } else {
      price = f32(rank[next] / quality[c]);
      if (price < reservePrice) price = reservePrice;
      if (price > value[c]) price = value[c];
    }
    chosen.push(c);
    prices.push(price);
    usedMs += duration;
  }

  // 6. Outputs, with each chosen ad's quality split into its terms.
  const contributions = new Float32Array(chosen.length * (agents + 1));
  chosen.forEach((c, t) => {
    const row = t * (agents + 1);
    contributions[row] = f32(relevanceWeight * relevance[c]);
    for (let a = 0; a < agents; a++) contributions[row + 1 + a] = f32(coefficient[a] * request.scores[a * n + c]);
  });
  return {
    moduleVersion: "reference",
    inventoryVersion: inventory.version,
    count: chosen.length,
    eligibleCount: eligible.length,
    vetoedCount,
    indices: Int32Array.from(chosen),
    prices: Float32Array.from(prices),
    ranks: Float32Array.from(chosen, (c) => rank[c]),
    qualities: Float32Array.from(chosen, (c) => quality[c]),
    relevances: Float32Array.from(chosen, (c) => relevance[c]),
    contributions,
  };
}
