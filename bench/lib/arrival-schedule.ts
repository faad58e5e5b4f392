/**
 * When an open loop's arrivals are due: `arrivals(t)` is how many are due by `t` ms after the start (fractional,
 * the integral of the rate), `at(k)` when arrival k is due (its inverse), `total` how many the step sends.
 */
export interface ArrivalSchedule {
  total: number;
  arrivals(elapsedMs: number): number;
  at(k: number): number;
}

/**
 * `rate` per second for `durationMs`; with `rampMs`, the rate first grows linearly from a tenth to all of it over
 * that long (a freshly started server's slow start, as the soak's own load ramps). Exact due times during the
 * ramp too, so latency still counts from when each call was meant to go out.
 */
export function arrivalSchedule(rate: number, durationMs: number, rampMs = 0): ArrivalSchedule {
  const perMs = rate / 1000;
  const w = Math.min(Math.max(0, rampMs), durationMs);
  // Arrivals by the end of the ramp: the integral of perMs * (0.1 + 0.9 t / w) over [0, w].
  const rampArrivals = perMs * 0.55 * w;
  const arrivals = (t: number) => (t < w ? perMs * (0.1 * t + (0.45 * t * t) / w) : rampArrivals + perMs * (t - w));
  const at = (k: number) =>
    k < rampArrivals ? ((-0.1 + Math.sqrt(0.01 + (1.8 * k) / (perMs * w))) * w) / 0.9 : w + (k - rampArrivals) / perMs;
  return { total: Math.max(1, Math.round(arrivals(durationMs))), arrivals, at };
}
