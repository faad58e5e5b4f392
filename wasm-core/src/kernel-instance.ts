/**
 * A validated kernel instance and the typed view of its memory. Made by `instantiateKernel` (kernel-loader.ts).
 * The host writes inputs at the kernel's region offsets and reads outputs back; nothing is allocated inside
 * the module per call. Views are whole-memory typed arrays, recreated whenever `memory.buffer` changes.
 */
import { describeKernelStatus, type KernelExports, OutHeader, Region, rowStride } from "./kernel-abi.ts";
import { checkInventory, type InventoryShape } from "./kernel-checks.ts";
import { KernelInputError, KernelTrapError } from "./kernel-errors.ts";
import type { KernelCapacity, KernelInventory, KernelRequest, KernelResult } from "./kernel-inputs.ts";

/** Destination arrays for a pod (capacity-sized); `header` gets count, eligible and vetoed. */
export interface KernelOutputs {
  readonly header: Int32Array;
  readonly indices: Int32Array;
  readonly prices: Float32Array;
  readonly ranks: Float32Array;
  readonly qualities: Float32Array;
  readonly relevances: Float32Array;
  readonly contributions: Float32Array;
}

interface DecideCall {
  readonly n: number;
  readonly d: number;
  readonly agents: number;
  readonly relevanceWeight: number;
  readonly reservePrice: number;
  readonly auctionType: number;
  readonly maxAds: number;
  readonly maxDurationMs: number;
}

export class KernelInstance {
  readonly capacity: KernelCapacity;
  readonly simd: boolean;
  readonly #exports: KernelExports;
  /** Word (4-byte) index of each region, by Region id. */
  readonly #at: Int32Array;
  #buffer: ArrayBuffer | undefined;
  #f32 = new Float32Array(0);
  #i32 = new Int32Array(0);
  #u32 = new Uint32Array(0);
  #inventory: InventoryShape | undefined;
  /** Scalar arguments of the last written request. */
  #call: DecideCall | undefined;

  /** Use `instantiateKernel`: it checks the ABI and configures memory before handing out an instance. */
  constructor(exports: KernelExports, capacity: KernelCapacity, regionOffsets: Int32Array) {
    this.#exports = exports;
    this.capacity = capacity;
    this.simd = exports.KERNEL_SIMD.value === 1;
    this.#at = regionOffsets.map((offset) => offset >> 2);
    this.#refreshViews();
  }

  /** The resident inventory's version, shape; undefined before `setInventory`. */
  get inventory(): InventoryShape | undefined {
    return this.#inventory;
  }

  /** Current size of the module's linear memory. */
  get memoryBytes(): number {
    return this.#exports.memory.buffer.byteLength;
  }

  /** Copies the candidate features into the module; they stay there until the next inventory. */
  setInventory(inventory: KernelInventory): void {
    checkInventory(inventory, this.capacity);
    this.#refreshViews();
    const { candidates: n, dimensions: d } = inventory;
    const stride = rowStride(d);
    const base = this.#at[Region.Embeddings];
    if (stride === d) {
      this.#f32.set(inventory.embeddings, base);
    } else {
      this.#f32.fill(0, base, base + n * stride);
      for (let c = 0; c < n; c++) this.#f32.set(inventory.embeddings.subarray(c * d, c * d + d), base + c * stride);
    }
    this.#i32.set(inventory.durationMs, this.#at[Region.DurationMs]);
    this.#i32.set(inventory.advertiserId, this.#at[Region.AdvertiserId]);
    this.#i32.set(inventory.categoryId, this.#at[Region.CategoryId]);
    this.#inventory = { version: inventory.version, candidates: n, dimensions: d };
    this.#call = undefined;
  }

  /**
   * Writes the request and runs the kernel; returns the pod size. The request must already have passed
   * `checkRequest` against this instance's inventory. A trap becomes KernelTrapError.
   */
  run(request: KernelRequest): number {
    this.write(request);
    return this.invoke();
  }

  /** Copies a request's inputs into the module (the first half of `run`). */
  write(request: KernelRequest): void {
    const inventory = this.#inventory;
    if (inventory === undefined) throw new KernelInputError("no inventory is resident");
    this.#refreshViews();
    const n = inventory.candidates;
    const d = inventory.dimensions;
    const agents = request.weights.length;
    const f32 = this.#f32;
    const intentAt = this.#at[Region.Intent];
    f32.set(request.intent, intentAt);
    f32.fill(0, intentAt + d, intentAt + rowStride(d));
    f32.set(request.weights, this.#at[Region.Weights]);
    f32.set(request.confidence, this.#at[Region.Confidence]);
    const nStride = rowStride(n);
    const scoresAt = this.#at[Region.Scores];
    if (nStride === n) {
      f32.set(request.scores, scoresAt);
    } else {
      for (let a = 0; a < agents; a++) f32.set(request.scores.subarray(a * n, a * n + n), scoresAt + a * nStride);
    }
    this.#u32.set(request.vetoMask, this.#at[Region.VetoMask]);
    f32.set(request.bid, this.#at[Region.Bid]);
    f32.set(request.pResponse, this.#at[Region.PResponse]);
    this.#call = {
      n,
      d,
      agents,
      relevanceWeight: request.relevanceWeight,
      reservePrice: request.reservePrice,
      auctionType: request.auctionType,
      maxAds: request.maxAds,
      maxDurationMs: request.maxDurationMs,
    };
  }

  /**
   * Runs the kernel on the inputs already in memory (the second half of `run`). Calling it again repeats
   * the last request: that is how the benchmark times the kernel alone.
   */
  invoke(): number {
    const call = this.#call;
    if (call === undefined) throw new KernelInputError("no request has been written");
    let count: number;
    try {
      count = this.#exports.decide(
        call.n,
        call.d,
        call.agents,
        call.relevanceWeight,
        call.reservePrice,
        call.auctionType,
        call.maxAds,
        call.maxDurationMs,
      );
    } catch (error) {
      if (error instanceof WebAssembly.RuntimeError) throw new KernelTrapError(error.message, { cause: error });
      throw error;
    }
    this.#refreshViews();
    if (count < 0) throw new KernelInputError(`kernel refused the call: ${describeKernelStatus(count)}`);
    return count;
  }

  /** Copies the last pod into `outputs` (header, then `count` rows; contributions count*(agents+1)). */
  readInto(outputs: KernelOutputs, agents: number): number {
    const header = this.#at[Region.OutHeader];
    const count = this.#i32[header + OutHeader.Count];
    outputs.header.set(this.#i32.subarray(header, header + OutHeader.Vetoed + 1));
    outputs.indices.set(this.#i32.subarray(this.#at[Region.OutIndex], this.#at[Region.OutIndex] + count));
    this.#copy(outputs.prices, Region.OutPrice, count);
    this.#copy(outputs.ranks, Region.OutRank, count);
    this.#copy(outputs.qualities, Region.OutQuality, count);
    this.#copy(outputs.relevances, Region.OutRelevance, count);
    this.#copy(outputs.contributions, Region.OutContribution, count * (agents + 1));
    return count;
  }

  /** Runs one request and returns the pod as fresh arrays. */
  decide(request: KernelRequest, moduleVersion: string): KernelResult {
    const count = this.run(request);
    const agents = request.weights.length;
    const header = this.#at[Region.OutHeader];
    return {
      moduleVersion,
      inventoryVersion: request.inventoryVersion,
      count,
      eligibleCount: this.#i32[header + OutHeader.Eligible],
      vetoedCount: this.#i32[header + OutHeader.Vetoed],
      indices: this.#i32.slice(this.#at[Region.OutIndex], this.#at[Region.OutIndex] + count),
      prices: this.#slice(Region.OutPrice, count),
      ranks: this.#slice(Region.OutRank, count),
      qualities: this.#slice(Region.OutQuality, count),
      relevances: this.#slice(Region.OutRelevance, count),
      contributions: this.#slice(Region.OutContribution, count * (agents + 1)),
    };
  }

  #copy(target: Float32Array, region: Region, length: number): void {
    const at = this.#at[region];
    target.set(this.#f32.subarray(at, at + length));
  }

  #slice(region: Region, length: number): Float32Array {
    const at = this.#at[region];
    return this.#f32.slice(at, at + length);
  }

  /** A grown memory detaches the old buffer; every view must be rebuilt over the new one. */
  #refreshViews(): void {
    const buffer = this.#exports.memory.buffer;
    if (buffer === this.#buffer) return;
    this.#buffer = buffer;
    this.#f32 = new Float32Array(buffer);
    this.#i32 = new Int32Array(buffer);
    this.#u32 = new Uint32Array(buffer);
  }
}
