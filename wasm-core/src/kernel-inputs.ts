/** The kernel's inputs and outputs as TypeScript sees them. Semantics: wasm-core/README.md. */

/** Candidate features, resident in the kernel until the inventory changes. Candidate c is row c of every array. */
export interface KernelInventory {
  /** Inventory version, an integer 0..2^32-1; every request names the version it was built for. */
  readonly version: number;
  /** N, the number of candidates. */
  readonly candidates: number;
  /** D, the embedding dimension. */
  readonly dimensions: number;
  /** f32[N*D], row-major (candidate c = embeddings[c*D .. c*D+D)). */
  readonly embeddings: Float32Array;
  /** i32[N], creative duration; >= 0. */
  readonly durationMs: Int32Array;
  /** i32[N]; two ads of the same advertiser never share a pod. */
  readonly advertiserId: Int32Array;
  /** i32[N], IAB category; two ads of the same category never share a pod. */
  readonly categoryId: Int32Array;
}

export const AuctionType = { SecondPrice: 0, FirstPrice: 1 } as const;
export type AuctionType = (typeof AuctionType)[keyof typeof AuctionType];

/** One decision. A = weights.length agents. Scalars are rounded to f32 exactly as the kernel receives them. */
export interface KernelRequest {
  readonly inventoryVersion: number;
  /** f32[D], the user intent vector. */
  readonly intent: Float32Array;
  /** f32[A], the orchestrator's weight per agent. */
  readonly weights: Float32Array;
  /** f32[A], each agent's confidence in its own vote. */
  readonly confidence: Float32Array;
  /** f32[A*N], agent-major: scores[a*N + c] in [0, 1]. */
  readonly scores: Float32Array;
  /** Weight of the kernel-computed relevance term. */
  readonly relevanceWeight: number;
  /** u32[N], OR of veto-reason bits; non-zero excludes the candidate. */
  readonly vetoMask: Uint32Array;
  /** f32[N], bid per response unit, micros. */
  readonly bid: Float32Array;
  /** f32[N], predicted response probability (1 for CPM). */
  readonly pResponse: Float32Array;
  /** Micros, compared to value = bid * pResponse. */
  readonly reservePrice: number;
  readonly auctionType: AuctionType;
  /** K, 0..MAX_ADS. */
  readonly maxAds: number;
  /** Length of the break; >= 0. */
  readonly maxDurationMs: number;
}

/** The pod, in pod order (= global rank order). Arrays have `count` entries; contributions count*(A+1). */
export interface KernelResult {
  /** Version of the module that computed this result ("reference" for the TypeScript reference). */
  readonly moduleVersion: string;
  readonly inventoryVersion: number;
  readonly count: number;
  /** Candidates that passed every eligibility test (before pod assembly). */
  readonly eligibleCount: number;
  /** Candidates excluded by a non-zero veto mask. */
  readonly vetoedCount: number;
  readonly indices: Int32Array;
  /** Clearing price per impression, micros. */
  readonly prices: Float32Array;
  readonly ranks: Float32Array;
  readonly qualities: Float32Array;
  readonly relevances: Float32Array;
  /** Row t: the relevance term, then weight_a * confidence_a * score_{a,c} for each agent a. */
  readonly contributions: Float32Array;
  /**
   * Set when a fallback decided instead of the version the decision was routed to (it failed, hung or broke the
   * output contract): why. The decision is served, marked degraded.
   */
  readonly degraded?: string;
}

/** What the kernel's memory is laid out for. Requests and inventories beyond it are refused. */
export interface KernelCapacity {
  readonly maxCandidates: number;
  readonly maxDimensions: number;
  readonly maxAgents: number;
}
