/**
 * The kernel's per-candidate arithmetic in TypeScript, the one copy: a candidate's relevance, its quality split
 * into terms (relevance term, then one contribution per agent), its value and its rank, each step rounded to f32
 * in the kernel's pinned order (assembly/kernel.ts: no fused multiply-add, a dot product keeps four partial sums,
 * agents added in index order). The reference kernel, the explanation of a decision (Decide's `explain` and
 * `chorus explain`), the AuctionOutcome's losers and the no-fill reason all read candidates through it, so they
 * agree with the WASM kernel bit for bit (kernel-terms.spec.ts).
 */
import type { KernelRequest } from "./kernel-inputs.ts";

const f32 = Math.fround;

/** The inventory arrays the terms read (a KernelInventory, or a catalog Inventory's arrays). */
export interface TermsInventory {
  readonly candidates: number;
  readonly dimensions: number;
  readonly embeddings: Float32Array;
}

export interface CandidateTerms {
  relevance: number;
  /** relevanceWeight x relevance: the first term of the quality. */
  relevanceTerm: number;
  /** Per agent, (weight x confidence) x score. */
  contributions: number[];
  quality: number;
  /** bid x predicted response, in micros. */
  value: number;
  /** value x quality: the kernel's order key (descending, ties by lower index). */
  rank: number;
}

/** intent . embedding of candidate c, with four partial sums: element j goes to sum j % 4. */
export function relevanceOf(inventory: TermsInventory, request: KernelRequest, c: number): number {
  const d = inventory.dimensions;
  const intent = request.intent;
  const embeddings = inventory.embeddings;
  const row = c * d;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 4 <= d; j += 4) {
    s0 = f32(s0 + f32(intent[j]! * embeddings[row + j]!));
    s1 = f32(s1 + f32(intent[j + 1]! * embeddings[row + j + 1]!));
    s2 = f32(s2 + f32(intent[j + 2]! * embeddings[row + j + 2]!));
    s3 = f32(s3 + f32(intent[j + 3]! * embeddings[row + j + 3]!));
  }
  if (j < d) s0 = f32(s0 + f32(intent[j]! * embeddings[row + j]!));
  if (j + 1 < d) s1 = f32(s1 + f32(intent[j + 1]! * embeddings[row + j + 1]!));
  if (j + 2 < d) s2 = f32(s2 + f32(intent[j + 2]! * embeddings[row + j + 2]!));
  return f32(f32(s0 + s1) + f32(s2 + s3));
}

/** Each agent's coefficient, weight x confidence, rounded as the kernel rounds it (once per request). */
export function agentCoefficients(request: KernelRequest): Float32Array {
  return Float32Array.from(request.weights, (w, a) => f32(w * request.confidence[a]!));
}

/**
 * Candidate c's quality: the relevance term, then each agent's (weight x confidence) x score in index order.
 * Writes each agent's part into `contributions` when given. The one place the kernel's quality sum is written.
 */
function qualityOf(
  inventory: TermsInventory,
  request: KernelRequest,
  c: number,
  coefficients: Float32Array,
  relevance: number,
  contributions?: number[],
): number {
  const n = inventory.candidates;
  let quality = f32(f32(request.relevanceWeight) * relevance);
  for (let a = 0; a < coefficients.length; a++) {
    const part = f32(coefficients[a]! * request.scores[a * n + c]!);
    if (contributions) contributions[a] = part;
    quality = f32(quality + part);
  }
  return quality;
}

/** Candidate c's terms, as the kernel computes them. `coefficients` may be passed when many candidates are read. */
export function candidateTerms(
  inventory: TermsInventory,
  request: KernelRequest,
  c: number,
  coefficients: Float32Array = agentCoefficients(request),
): CandidateTerms {
  const relevance = relevanceOf(inventory, request, c);
  const contributions = new Array<number>(coefficients.length);
  const quality = qualityOf(inventory, request, c, coefficients, relevance, contributions);
  const value = candidateValue(request, c);
  return {
    relevance,
    relevanceTerm: f32(f32(request.relevanceWeight) * relevance),
    contributions,
    quality,
    value,
    rank: f32(value * quality),
  };
}

/** bid x predicted response, in micros. */
export function candidateValue(request: KernelRequest, c: number): number {
  return f32(request.bid[c]! * request.pResponse[c]!);
}

/** Candidate c's quality, value and rank without its per-agent parts (no allocation: every candidate, every decision). */
export function rankTerms(
  inventory: TermsInventory,
  request: KernelRequest,
  c: number,
  coefficients: Float32Array,
): Pick<CandidateTerms, "quality" | "value" | "rank"> {
  const quality = qualityOf(inventory, request, c, coefficients, relevanceOf(inventory, request, c));
  const value = candidateValue(request, c);
  return { quality, value, rank: f32(value * quality) };
}

/** Why the kernel leaves an unvetoed candidate out before it builds the pod; undefined = eligible. */
export type Ineligibility = "quality" | "reserve" | "rank" | "duration";

/** The kernel's eligibility tests on unvetoed candidate c, in its order (positive tests: NaN anywhere excludes). */
export function ineligibility(
  terms: Pick<CandidateTerms, "quality" | "value" | "rank">,
  request: KernelRequest,
  durationMs: number,
): Ineligibility | undefined {
  if (!(terms.quality > 0)) return "quality";
  if (!(terms.value >= f32(request.reservePrice))) return "reserve";
  if (!(terms.rank > 0)) return "rank";
  if (!(durationMs <= request.maxDurationMs)) return "duration";
  return undefined;
}

/** The kernel's global order: rank descending, ties by lower candidate index. */
export function byRank(ranks: ArrayLike<number>): (x: number, y: number) => number {
  return (x, y) => (ranks[x]! > ranks[y]! ? -1 : ranks[x]! < ranks[y]! ? 1 : x - y);
}

/**
 * The price the kernel charges a chosen candidate: first price = its value; second price = the rank of the next
 * candidate in the global order (taken or not) divided by its quality, at least the reserve and at most its value;
 * with no next candidate, the reserve. `next` undefined = no runner-up.
 */
export function candidatePrice(
  terms: Pick<CandidateTerms, "quality" | "value">,
  next: Pick<CandidateTerms, "rank"> | undefined,
  request: Pick<KernelRequest, "auctionType" | "reservePrice">,
): number {
  const reserve = f32(request.reservePrice);
  if (request.auctionType === 1) return terms.value;
  if (next === undefined) return reserve;
  let price = f32(next.rank / terms.quality);
  if (price < reserve) price = reserve;
  if (price > terms.value) price = terms.value;
  return price;
}
