/** Asks this close to the content's end are left to the boundary (the player asks there anyway). */
export const END_MARGIN_MS = 5_000;
/** Without advice (a server that does not name a next break), the player asks again this much later. */
export const FALLBACK_RETRY_MS = 120_000;

/**
 * What a player does after "not a good moment" mid-content: ask again at the advised next break (Chorus's
 * DecideResponse.next_break_offset_ms, from the content start) instead of giving up; without advice, a fixed
 * interval later. Returns the content position to ask at, or undefined when the next ask is the content's end
 * (the boundary), which the player asks at in any case.
 */
export function askAgainAt(
  advisedOffsetMs: number,
  positionMs: number,
  durationMs: number,
  fallbackMs = FALLBACK_RETRY_MS,
): number | undefined {
  // Advice at or behind the current position is stale (e.g. the listener moved on): fall back to the interval.
  const target = advisedOffsetMs > positionMs + 1_000 ? advisedOffsetMs : positionMs + fallbackMs;
  return target < durationMs - END_MARGIN_MS ? target : undefined;
}
