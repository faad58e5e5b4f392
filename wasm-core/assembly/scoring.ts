// Scoring passes of the kernel: relevance (dot products), quality, value and rank per candidate, and the
// winners' per-agent contribution rows. Float order is pinned (see kernel.ts).

import { oBid, oConfidence, oEmbeddings, oIntent, oOutContribution, oOutIndex, oPResponse, oQuality, oRank, oRelevance, oScores, oValue, oWeights } from "./layout";

/** rel_c = dot(intent, emb_c) with the pinned 4-partial-sum order. */
export function computeRelevance(candidates: i32, dStride: i32): void {
  const rowBytes = <usize>dStride << 2;
  let c = 0;
  let row = oEmbeddings;
  if (ASC_FEATURE_SIMD) {
    // One candidate's sum is a chain of dependent adds (the order is pinned); four candidates per pass give
    // the CPU four independent chains and share each intent load.
    for (; c + 3 < candidates; c += 4) {
      const row1 = row + rowBytes;
      const row2 = row1 + rowBytes;
      const row3 = row2 + rowBytes;
      let acc0 = f32x4.splat(0);
      let acc1 = f32x4.splat(0);
      let acc2 = f32x4.splat(0);
      let acc3 = f32x4.splat(0);
      for (let j: usize = 0; j < rowBytes; j += 16) {
        const x = v128.load(oIntent + j);
        acc0 = f32x4.add(acc0, f32x4.mul(x, v128.load(row + j)));
        acc1 = f32x4.add(acc1, f32x4.mul(x, v128.load(row1 + j)));
        acc2 = f32x4.add(acc2, f32x4.mul(x, v128.load(row2 + j)));
        acc3 = f32x4.add(acc3, f32x4.mul(x, v128.load(row3 + j)));
      }
      const out = oRelevance + (<usize>c << 2);
      store<f32>(out, horizontalSum(acc0));
      store<f32>(out, horizontalSum(acc1), 4);
      store<f32>(out, horizontalSum(acc2), 8);
      store<f32>(out, horizontalSum(acc3), 12);
      row = row3 + rowBytes;
    }
    for (; c < candidates; c++) {
      let acc = f32x4.splat(0);
      for (let j: usize = 0; j < rowBytes; j += 16) {
        acc = f32x4.add(acc, f32x4.mul(v128.load(oIntent + j), v128.load(row + j)));
      }
      store<f32>(oRelevance + (<usize>c << 2), horizontalSum(acc));
      row += rowBytes;
    }
  } else {
    for (; c < candidates; c++) {
      let s0: f32 = 0;
      let s1: f32 = 0;
      let s2: f32 = 0;
      let s3: f32 = 0;
      for (let j: usize = 0; j < rowBytes; j += 16) {
        const x = oIntent + j;
        const y = row + j;
        s0 += load<f32>(x) * load<f32>(y);
        s1 += load<f32>(x, 4) * load<f32>(y, 4);
        s2 += load<f32>(x, 8) * load<f32>(y, 8);
        s3 += load<f32>(x, 12) * load<f32>(y, 12);
      }
      store<f32>(oRelevance + (<usize>c << 2), (s0 + s1) + (s2 + s3));
      row += rowBytes;
    }
  }
}

// @ts-ignore: decorator
@inline
function horizontalSum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * quality_c = relevanceWeight * rel_c + sum_a (weight_a * confidence_a) * score_{a,c}, agents in order;
 * value_c = bid_c * pResponse_c; rank_c = value_c * quality_c. Runs over the padded row (lanes past the last
 * candidate compute garbage that nothing reads).
 */
export function computeQualityAndRank(nStride: i32, agents: i32, relevanceWeight: f32): void {
  // Agent-major passes: each candidate still adds its terms in agent order (the pinned order), while the
  // adds of different candidates are independent, so the CPU streams them instead of waiting on one chain.
  const rowBytes = <usize>nStride << 2;
  if (ASC_FEATURE_SIMD) {
    const rw = f32x4.splat(relevanceWeight);
    for (let i: usize = 0; i < rowBytes; i += 16) v128.store(oQuality + i, f32x4.mul(rw, v128.load(oRelevance + i)));
    let score = oScores;
    for (let a = 0; a < agents; a++) {
      const coef = f32x4.splat(load<f32>(oWeights + (<usize>a << 2)) * load<f32>(oConfidence + (<usize>a << 2)));
      for (let i: usize = 0; i < rowBytes; i += 16) {
        v128.store(oQuality + i, f32x4.add(v128.load(oQuality + i), f32x4.mul(coef, v128.load(score + i))));
      }
      score += rowBytes;
    }
    for (let i: usize = 0; i < rowBytes; i += 16) {
      const value = f32x4.mul(v128.load(oBid + i), v128.load(oPResponse + i));
      v128.store(oValue + i, value);
      v128.store(oRank + i, f32x4.mul(value, v128.load(oQuality + i)));
    }
  } else {
    for (let i: usize = 0; i < rowBytes; i += 4) store<f32>(oQuality + i, relevanceWeight * load<f32>(oRelevance + i));
    let score = oScores;
    for (let a = 0; a < agents; a++) {
      const coef = load<f32>(oWeights + (<usize>a << 2)) * load<f32>(oConfidence + (<usize>a << 2));
      for (let i: usize = 0; i < rowBytes; i += 4) {
        store<f32>(oQuality + i, load<f32>(oQuality + i) + coef * load<f32>(score + i));
      }
      score += rowBytes;
    }
    for (let i: usize = 0; i < rowBytes; i += 4) {
      const value = load<f32>(oBid + i) * load<f32>(oPResponse + i);
      store<f32>(oValue + i, value);
      store<f32>(oRank + i, value * load<f32>(oQuality + i));
    }
  }
}

/** Row t: relevanceWeight * rel, then (weight_a * confidence_a) * score_{a,c} per agent — the terms of quality. */
export function writeContributions(count: i32, agents: i32, nStride: i32, relevanceWeight: f32): void {
  let out = oOutContribution;
  for (let t = 0; t < count; t++) {
    const c = <usize>load<i32>(oOutIndex + (<usize>t << 2));
    store<f32>(out, relevanceWeight * load<f32>(oRelevance + (c << 2)));
    out += 4;
    for (let a = 0; a < agents; a++) {
      const coef = load<f32>(oWeights + (<usize>a << 2)) * load<f32>(oConfidence + (<usize>a << 2));
      store<f32>(out, coef * load<f32>(oScores + ((<usize>a * <usize>nStride + c) << 2)));
      out += 4;
    }
  }
}
