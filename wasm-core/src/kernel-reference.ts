/**
 * The kernel's semantics in plain TypeScript: the specification the WASM builds are tested against.
 * Written for reading, not speed (a full sort instead of the kernel's lazy heap; same order, since the
 * order is total). Every arithmetic step is rounded to f32 in the kernel's pinned order, so results are
 * expected to match the WASM builds bit for bit; the tests still only require the stated tolerance.
 */
import { checkInventory, checkRequest } from "./kernel-checks.ts";
import type { KernelInventory, KernelRequest, KernelResult } from "./kernel-inputs.ts";
import { agentCoefficients, byRank, candidatePrice, candidateTerms, ineligibility } from "./kernel-terms.ts";

export function decideReference(inventory: KernelInventory, request: KernelRequest): KernelResult {
  checkInventory(inventory);
  checkRequest(request, inventory);
  const n = inventory.candidates;
  const agents = request.weights.length;
  const coefficients = agentCoefficients(request);

  // 1-3. relevance, quality (relevance term, then agents in order), value and rank: kernel-terms.ts.
  const terms = Array.from({ length: n }, (_, c) => candidateTerms(inventory, request, c, coefficients));
  const quality = Float32Array.from(terms, (t) => t.quality);
  const rank = Float32Array.from(terms, (t) => t.rank);

  // Eligibility (kernel-terms.ts ineligibility).
  let vetoedCount = 0;
  const eligible: number[] = [];
  for (let c = 0; c < n; c++) {
    if (request.vetoMask[c] !== 0) vetoedCount++;
    else if (ineligibility(terms[c]!, request, inventory.durationMs[c]!) === undefined) eligible.push(c);
  }

  // 4. Global order: rank descending, ties by lower index. Pod: walk it, take what fits and does not clash.
  eligible.sort(byRank(rank));
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

    // 5. Price against the next candidate in the global order, taken or not (kernel-terms.ts candidatePrice).
    const next = eligible[position + 1];
    chosen.push(c);
    prices.push(candidatePrice(terms[c]!, next === undefined ? undefined : terms[next], request));
    usedMs += duration;
  }

  // 6. Outputs, with each chosen ad's quality split into its terms.
  const contributions = new Float32Array(chosen.length * (agents + 1));
  chosen.forEach((c, t) => {
    const row = t * (agents + 1);
    contributions[row] = terms[c]!.relevanceTerm;
    for (let a = 0; a < agents; a++) contributions[row + 1 + a] = terms[c]!.contributions[a]!;
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
    relevances: Float32Array.from(chosen, (c) => terms[c]!.relevance),
    contributions,
  };
}
