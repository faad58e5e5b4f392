/**
 * Agent scoring ABI 1, the memory layout shared by every agent's scoring module (see wasm-core/README.md).
 * Flat linear memory after __heap_base, sized once by configure; a call allocates nothing.
 *
 *   input():  f64 context[CONTEXT], then f64 features[maxCandidates * FEATURES] (candidate-major)
 *   output(): f64 confidence, f64 scores[maxCandidates], f64 extra[maxCandidates]
 *   scratch:  f64[maxCandidates + 64] for the module's own use
 */
export const ABI_VERSION: i32 = 1;

export const STATUS_OK: i32 = 0;
export const STATUS_BAD_CAPACITY: i32 = -1;
export const STATUS_OUT_OF_MEMORY: i32 = -2;
export const STATUS_BAD_INPUT: i32 = -3;
export const STATUS_NOT_CONFIGURED: i32 = -4;

/** The largest candidate set a module accepts (the host's capacity is at most this). */
const LIMIT_CANDIDATES: i32 = 65_536;

let inputAt: usize = 0;
let outputAt: usize = 0;
let scratchAt: usize = 0;
let capCandidates: i32 = 0;

function align16(at: usize): usize {
  return (at + 15) & ~(<usize>15);
}

/** Lays out the regions for `maxCandidates` and grows memory to fit. Call once per instance (or to grow). */
export function configureLayout(maxCandidates: i32, context: i32, features: i32): i32 {
  if (maxCandidates < 1 || maxCandidates > LIMIT_CANDIDATES) return STATUS_BAD_CAPACITY;
  const n = <usize>maxCandidates;
  let at = align16(__heap_base);
  inputAt = at;
  at = align16(at + (<usize>context + n * <usize>features) * 8);
  outputAt = at;
  at = align16(at + (1 + 2 * n) * 8);
  scratchAt = at;
  at = align16(at + (n + 64) * 8);
  const needPages = <i32>((at + 0xffff) >> 16);
  const havePages = memory.size();
  if (needPages > havePages && memory.grow(needPages - havePages) < 0) return STATUS_OUT_OF_MEMORY;
  capCandidates = maxCandidates;
  return STATUS_OK;
}

export function capacity(): i32 {
  return capCandidates;
}

export function input(): usize {
  return inputAt;
}

export function output(): usize {
  return outputAt;
}

export function scratch(): usize {
  return scratchAt;
}

/** Feature `f` of candidate `c` (FEATURES columns per candidate). */
@inline
export function feature(features: i32, context: i32, c: i32, f: i32): f64 {
  return load<f64>(inputAt + ((<usize>context + <usize>c * <usize>features + <usize>f) << 3));
}

@inline
export function contextValue(i: i32): f64 {
  return load<f64>(inputAt + (<usize>i << 3));
}

@inline
export function setConfidence(value: f64): void {
  store<f64>(outputAt, value);
}

@inline
export function setScore(c: i32, value: f64): void {
  store<f64>(outputAt + ((1 + <usize>c) << 3), value);
}

@inline
export function setExtra(c: i32, value: f64): void {
  store<f64>(outputAt + ((1 + <usize>capCandidates + <usize>c) << 3), value);
}

@inline
export function getScore(c: i32): f64 {
  return load<f64>(outputAt + ((1 + <usize>c) << 3));
}

@inline
export function getExtra(c: i32): f64 {
  return load<f64>(outputAt + ((1 + <usize>capCandidates + <usize>c) << 3));
}
