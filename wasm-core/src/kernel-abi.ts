/**
 * The kernel ABI (version 1): exports, statuses and the linear-memory layout, as the host sees them.
 * The kernel computes the region offsets itself (assembly/kernel.ts `configure`); the host reads them with
 * `regionOffset` and checks that each region is at least as large as this table says.
 */
import type { KernelCapacity } from "./kernel-inputs.ts";

export const KERNEL_ABI_VERSION = 1;
/**
 * The shipped kernel builds declare this memory maximum (64 KiB pages; 256 MiB: DEFAULT_CAPACITY needs under
 * 8 MiB), so memory.grow fails inside the module beyond it and the default CHORUS_MODULE_MAX_MEMORY_MB accepts it.
 */
export const KERNEL_MAX_MEMORY_PAGES = 4096;
/** K is at most this; output regions are sized for it. */
export const MAX_ADS = 16;

/** Negative results of `configure` and `decide`. */
export const KernelStatus = {
  BadCapacity: -1,
  OutOfMemory: -2,
  NotConfigured: -3,
  BadArguments: -4,
} as const;

export function describeKernelStatus(status: number): string {
  switch (status) {
    case KernelStatus.BadCapacity:
      return "capacity out of range";
    case KernelStatus.OutOfMemory:
      return "memory.grow failed";
    case KernelStatus.NotConfigured:
      return "decide before configure";
    case KernelStatus.BadArguments:
      return "arguments outside the configured capacity";
    default:
      return `unknown status ${status}`;
  }
}

/** Region ids, in layout order (same numbering as assembly/kernel.ts). `End` asks for the end of the layout. */
export const Region = {
  Embeddings: 0,
  DurationMs: 1,
  AdvertiserId: 2,
  CategoryId: 3,
  Intent: 4,
  Weights: 5,
  Confidence: 6,
  Scores: 7,
  VetoMask: 8,
  Bid: 9,
  PResponse: 10,
  Relevance: 11,
  Quality: 12,
  Value: 13,
  Rank: 14,
  /** The eligible candidates, then (if the walk needs it) a heap over them. */
  Order: 15,
  /** The best 2K + 8 eligible candidates in the global order. */
  Top: 16,
  OutHeader: 17,
  OutIndex: 18,
  OutPrice: 19,
  OutRank: 20,
  OutQuality: 21,
  OutRelevance: 22,
  OutContribution: 23,
  End: 24,
} as const;
export type Region = (typeof Region)[keyof typeof Region];

/** Output header words (i32): pod size, eligible candidates, vetoed candidates. */
export const OutHeader = { Count: 0, Eligible: 1, Vetoed: 2, Words: 4 } as const;

/** Rows are padded to a multiple of four lanes so f32x4 code never needs a scalar tail. Padding must be zero. */
export function rowStride(length: number): number {
  return (length + 3) & ~3;
}

/** Elements (4 bytes each) that every region holds at least, for a capacity. */
export function regionElements(region: Region, capacity: KernelCapacity): number {
  const n = rowStride(capacity.maxCandidates);
  const d = rowStride(capacity.maxDimensions);
  const a = capacity.maxAgents;
  switch (region) {
    case Region.Embeddings:
      return n * d;
    case Region.Intent:
      return d;
    case Region.Weights:
    case Region.Confidence:
      return a;
    case Region.Scores:
      return a * n;
    case Region.Top:
      return 2 * MAX_ADS + 8;
    case Region.OutHeader:
      return OutHeader.Words;
    case Region.OutIndex:
    case Region.OutPrice:
    case Region.OutRank:
    case Region.OutQuality:
    case Region.OutRelevance:
      return MAX_ADS;
    case Region.OutContribution:
      return MAX_ADS * (a + 1);
    case Region.End:
      return 0;
    default:
      return n;
  }
}

/** What a kernel module must export, and as what. The loader refuses anything else missing or mistyped. */
export const KERNEL_EXPORTS = {
  memory: "memory",
  ABI_VERSION: "global",
  KERNEL_SIMD: "global",
  MAX_ADS: "global",
  configure: "function",
  regionOffset: "function",
  decide: "function",
} as const satisfies Record<string, WebAssembly.ImportExportKind>;

/** The typed exports of a validated kernel instance. */
export interface KernelExports {
  readonly memory: WebAssembly.Memory;
  readonly ABI_VERSION: WebAssembly.Global;
  readonly KERNEL_SIMD: WebAssembly.Global;
  readonly MAX_ADS: WebAssembly.Global;
  configure(maxCandidates: number, maxDimensions: number, maxAgents: number): number;
  regionOffset(region: number): number;
  decide(
    candidates: number,
    dimensions: number,
    agents: number,
    relevanceWeight: number,
    reservePrice: number,
    auctionType: number,
    maxAds: number,
    maxDurationMs: number,
  ): number;
}
