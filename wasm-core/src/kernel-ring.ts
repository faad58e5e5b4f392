/**
 * The shared-memory ring between the pool (single producer, main thread) and one kernel worker (single
 * consumer). One SharedArrayBuffer holds a control block and `depth` fixed-size slots; a slot carries one
 * request in and its pod out, so a decision costs two memcpy and no postMessage. Sequence numbers only grow:
 * slot = sequence % depth. Slot lifecycle: Free -> Queued (main) -> Running (worker) -> Done (worker) -> Free.
 */
import { MAX_ADS, rowStride } from "./kernel-abi.ts";
import type { KernelCapacity, KernelRequest, KernelResult } from "./kernel-inputs.ts";
import type { KernelOutputs } from "./kernel-instance.ts";

/** Control words (Int32) at the start of the ring. */
export const Control = {
  /** Requests published by the pool (next sequence to write). */
  Published: 0,
  /** Requests finished by the worker (next sequence to run). */
  Completed: 1,
  /** 1 while the worker sleeps in Atomics.wait on Published: the pool must notify. */
  Sleeping: 2,
  /** Set by the pool: the worker leaves its loop. */
  Stop: 3,
  Words: 16,
} as const;

/**
 * The pool-wide doorbell (Int32 words in its own SharedArrayBuffer): a count of finished slots, and a flag the
 * pool raises while it is parked in Atomics.waitAsync. A waitAsync wake-up costs the main thread about 12 us of
 * CPU, so workers notify only when the pool is parked, and only the first of them. Spinner holds the lane id
 * of the one idle worker allowed to spin (0: none).
 */
export const Doorbell = { Count: 0, PoolParked: 1, Spinner: 2, Words: 3 } as const;

/** Worker side: count a finished slot and wake the pool if it is parked. */
export function ringDoorbell(doorbell: Int32Array): void {
  Atomics.add(doorbell, Doorbell.Count, 1);
  if (
    Atomics.load(doorbell, Doorbell.PoolParked) === 1 &&
    Atomics.compareExchange(doorbell, Doorbell.PoolParked, 1, 0) === 1
  ) {
    Atomics.notify(doorbell, Doorbell.Count);
  }
}

export const SlotState = { Free: 0, Queued: 1, Running: 2, Done: 3 } as const;

/** How a Done slot ended. */
export const SlotOutcome = { Ok: 0, Trap: 1, Refused: 2, InventoryMismatch: 3, ModuleFailed: 4 } as const;
export type SlotOutcome = (typeof SlotOutcome)[keyof typeof SlotOutcome];

/** Slot header words (Int32). RelevanceWeight and ReservePrice hold f32 bits. */
const Header = {
  State: 0,
  Outcome: 1,
  Count: 2,
  Eligible: 3,
  Vetoed: 4,
  InventoryVersion: 5,
  ControlGeneration: 6,
  ModuleGeneration: 7,
  Candidates: 8,
  Dimensions: 9,
  Agents: 10,
  AuctionType: 11,
  MaxAds: 12,
  MaxDurationMs: 13,
  RelevanceWeight: 14,
  ReservePrice: 15,
  MessageLength: 16,
} as const;
const HEADER_STARTED_AT = 72; // f64, epoch ms (performance.timeOrigin + performance.now())
const HEADER_MESSAGE = 128;
const HEADER_BYTES = 256;
const MESSAGE_BYTES = HEADER_BYTES - HEADER_MESSAGE;
const CONTROL_BYTES = Control.Words * 4;

const align16 = (bytes: number): number => (bytes + 15) & ~15;

/** Byte layout of one slot for a capacity. */
function slotLayout(capacity: KernelCapacity) {
  const n = rowStride(capacity.maxCandidates);
  const d = rowStride(capacity.maxDimensions);
  const a = capacity.maxAgents;
  let at = HEADER_BYTES;
  const take = (elements: number): number => {
    const start = at;
    at = align16(at + elements * 4);
    return start;
  };
  const layout = {
    intent: take(d),
    weights: take(a),
    confidence: take(a),
    scores: take(a * n),
    vetoMask: take(n),
    bid: take(n),
    pResponse: take(n),
    indices: take(MAX_ADS),
    prices: take(MAX_ADS),
    ranks: take(MAX_ADS),
    qualities: take(MAX_ADS),
    relevances: take(MAX_ADS),
    contributions: take(MAX_ADS * (a + 1)),
    bytes: 0,
  };
  layout.bytes = at;
  return layout;
}

type RequestArrays = Pick<
  KernelRequest,
  "intent" | "weights" | "confidence" | "scores" | "vetoMask" | "bid" | "pResponse"
>;

/** Capacity-sized views over one slot, made once per ring. */
class Slot {
  readonly header: Int32Array;
  readonly headerF32: Float32Array;
  readonly startedAt: Float64Array;
  readonly message: Uint8Array;
  readonly intent: Float32Array;
  readonly weights: Float32Array;
  readonly confidence: Float32Array;
  readonly scores: Float32Array;
  readonly vetoMask: Uint32Array;
  readonly bid: Float32Array;
  readonly pResponse: Float32Array;
  readonly outputs: KernelOutputs;

  #arrays: RequestArrays | undefined;
  #shape = "";

  /** Views of the request arrays for N candidates, D dimensions and A agents. */
  arrays(n: number, d: number, agents: number): RequestArrays {
    const shape = `${n}/${d}/${agents}`;
    if (this.#arrays === undefined || shape !== this.#shape) {
      this.#shape = shape;
      this.#arrays = {
        intent: this.intent.subarray(0, d),
        weights: this.weights.subarray(0, agents),
        confidence: this.confidence.subarray(0, agents),
        scores: this.scores.subarray(0, agents * n),
        vetoMask: this.vetoMask.subarray(0, n),
        bid: this.bid.subarray(0, n),
        pResponse: this.pResponse.subarray(0, n),
      };
    }
    return this.#arrays;
  }

  constructor(buffer: SharedArrayBuffer, base: number, capacity: KernelCapacity) {
    const layout = slotLayout(capacity);
    const n = rowStride(capacity.maxCandidates);
    const a = capacity.maxAgents;
    const f32 = (offset: number, length: number) => new Float32Array(buffer, base + offset, length);
    this.header = new Int32Array(buffer, base, HEADER_MESSAGE / 4);
    this.headerF32 = new Float32Array(buffer, base, HEADER_MESSAGE / 4);
    this.startedAt = new Float64Array(buffer, base + HEADER_STARTED_AT, 1);
    this.message = new Uint8Array(buffer, base + HEADER_MESSAGE, MESSAGE_BYTES);
    this.intent = f32(layout.intent, rowStride(capacity.maxDimensions));
    this.weights = f32(layout.weights, a);
    this.confidence = f32(layout.confidence, a);
    this.scores = f32(layout.scores, a * n);
    this.vetoMask = new Uint32Array(buffer, base + layout.vetoMask, n);
    this.bid = f32(layout.bid, n);
    this.pResponse = f32(layout.pResponse, n);
    this.outputs = {
      header: new Int32Array(buffer, base + Header.Count * 4, 3),
      indices: new Int32Array(buffer, base + layout.indices, MAX_ADS),
      prices: f32(layout.prices, MAX_ADS),
      ranks: f32(layout.ranks, MAX_ADS),
      qualities: f32(layout.qualities, MAX_ADS),
      relevances: f32(layout.relevances, MAX_ADS),
      contributions: f32(layout.contributions, MAX_ADS * (a + 1)),
    };
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class KernelRing {
  readonly buffer: SharedArrayBuffer;
  readonly depth: number;
  readonly control: Int32Array;
  readonly #slots: Slot[];

  /** Allocates a ring (pool side) or maps an existing one (worker side, same capacity and depth). */
  constructor(capacity: KernelCapacity, depth: number, buffer?: SharedArrayBuffer) {
    const slotBytes = slotLayout(capacity).bytes;
    this.buffer = buffer ?? new SharedArrayBuffer(CONTROL_BYTES + depth * slotBytes);
    this.depth = depth;
    this.control = new Int32Array(this.buffer, 0, Control.Words);
    this.#slots = Array.from(
      { length: depth },
      (_, i) => new Slot(this.buffer, CONTROL_BYTES + i * slotBytes, capacity),
    );
  }

  state(sequence: number): number {
    return Atomics.load(this.#slot(sequence).header, Header.State);
  }

  /** Epoch ms at which the worker took the slot (valid once Running). */
  startedAt(sequence: number): number {
    return this.#slot(sequence).startedAt[0]!;
  }

  // Pool side ---------------------------------------------------------------------------------------------

  /** Copies a checked request into the slot and marks it Queued; the caller then publishes it. */
  writeRequest(sequence: number, request: KernelRequest, candidates: number, controlGeneration: number): void {
    const slot = this.#slot(sequence);
    const h = slot.header;
    h[Header.Outcome] = 0;
    h[Header.InventoryVersion] = request.inventoryVersion | 0; // an unsigned 32-bit value in an Int32Array
    h[Header.ControlGeneration] = controlGeneration;
    h[Header.Candidates] = candidates;
    h[Header.Dimensions] = request.intent.length;
    h[Header.Agents] = request.weights.length;
    h[Header.AuctionType] = request.auctionType;
    h[Header.MaxAds] = request.maxAds;
    h[Header.MaxDurationMs] = request.maxDurationMs;
    slot.headerF32[Header.RelevanceWeight] = request.relevanceWeight;
    slot.headerF32[Header.ReservePrice] = request.reservePrice;
    slot.intent.set(request.intent);
    slot.weights.set(request.weights);
    slot.confidence.set(request.confidence);
    slot.scores.set(request.scores);
    slot.vetoMask.set(request.vetoMask);
    slot.bid.set(request.bid);
    slot.pResponse.set(request.pResponse);
    Atomics.store(h, Header.State, SlotState.Queued);
  }

  outcome(sequence: number): { outcome: SlotOutcome; message: string; moduleGeneration: number } {
    const slot = this.#slot(sequence);
    const h = slot.header;
    return {
      outcome: h[Header.Outcome] as SlotOutcome,
      message: h[Header.MessageLength] === 0 ? "" : decoder.decode(slot.message.slice(0, h[Header.MessageLength])),
      moduleGeneration: h[Header.ModuleGeneration]!,
    };
  }

  /** Reads a Done/Ok slot as a result; the arrays are copies, so the slot can be reused at once. */
  readResult(sequence: number, moduleVersion: string): KernelResult {
    const slot = this.#slot(sequence);
    const h = slot.header;
    const count = h[Header.Count]!;
    const o = slot.outputs;
    return {
      moduleVersion,
      inventoryVersion: h[Header.InventoryVersion]! >>> 0,
      count,
      eligibleCount: h[Header.Eligible]!,
      vetoedCount: h[Header.Vetoed]!,
      indices: o.indices.slice(0, count),
      prices: o.prices.slice(0, count),
      ranks: o.ranks.slice(0, count),
      qualities: o.qualities.slice(0, count),
      relevances: o.relevances.slice(0, count),
      contributions: o.contributions.slice(0, count * (h[Header.Agents]! + 1)),
    };
  }

  release(sequence: number): void {
    Atomics.store(this.#slot(sequence).header, Header.State, SlotState.Free);
  }

  // Worker side -------------------------------------------------------------------------------------------

  /** Marks the slot Running (start time first, so the pool never reads a stale one). */
  begin(sequence: number): void {
    const slot = this.#slot(sequence);
    slot.startedAt[0] = performance.timeOrigin + performance.now();
    Atomics.store(slot.header, Header.State, SlotState.Running);
  }

  controlGeneration(sequence: number): number {
    return this.#slot(sequence).header[Header.ControlGeneration]!;
  }

  inventoryVersion(sequence: number): number {
    return this.#slot(sequence).header[Header.InventoryVersion]! >>> 0;
  }

  /** The slot's request as views into shared memory (no copy; the array views are reused while N, D, A stay). */
  requestView(sequence: number): KernelRequest {
    const slot = this.#slot(sequence);
    const h = slot.header;
    const arrays = slot.arrays(h[Header.Candidates]!, h[Header.Dimensions]!, h[Header.Agents]!);
    // Spelled out: an object spread here costs microseconds once transpiled (tsx, vitest).
    return {
      intent: arrays.intent,
      weights: arrays.weights,
      confidence: arrays.confidence,
      scores: arrays.scores,
      vetoMask: arrays.vetoMask,
      bid: arrays.bid,
      pResponse: arrays.pResponse,
      inventoryVersion: h[Header.InventoryVersion]! >>> 0,
      relevanceWeight: slot.headerF32[Header.RelevanceWeight]!,
      reservePrice: slot.headerF32[Header.ReservePrice]!,
      auctionType: h[Header.AuctionType] === 1 ? 1 : 0,
      maxAds: h[Header.MaxAds]!,
      maxDurationMs: h[Header.MaxDurationMs]!,
    };
  }

  /** Where the worker copies the pod (header words count, eligible, vetoed, then the rows). */
  outputs(sequence: number): KernelOutputs {
    return this.#slot(sequence).outputs;
  }

  /** Records how the slot ended and marks it Done. */
  finish(sequence: number, outcome: SlotOutcome, moduleGeneration: number, message = ""): void {
    const slot = this.#slot(sequence);
    const h = slot.header;
    h[Header.Outcome] = outcome;
    h[Header.ModuleGeneration] = moduleGeneration;
    h[Header.MessageLength] = message === "" ? 0 : encoder.encodeInto(message, slot.message).written;
    Atomics.store(h, Header.State, SlotState.Done);
  }

  #slot(sequence: number): Slot {
    return this.#slots[sequence % this.depth]!;
  }
}
