import { describe, expect, it } from "vitest";
import { askAgainAt, END_MARGIN_MS, FALLBACK_RETRY_MS } from "./ask-again.ts";

describe("ask again", () => {
  it("ask again - at the advised chapter marker, not a fixed interval later", () => {
    expect(askAgainAt(900_000, 600_000, 2_400_000)).toBe(900_000);
  });

  it("ask again - advice at the track end is left to the boundary", () => {
    expect(askAgainAt(200_000, 60_000, 200_000)).toBeUndefined();
    expect(askAgainAt(200_000 - END_MARGIN_MS + 1, 60_000, 200_000)).toBeUndefined();
  });

  it("ask again - no advice (0) or stale advice falls back to the interval", () => {
    expect(askAgainAt(0, 100_000, 2_000_000)).toBe(100_000 + FALLBACK_RETRY_MS);
    expect(askAgainAt(100_500, 100_000, 2_000_000)).toBe(100_000 + FALLBACK_RETRY_MS);
    // ... unless the fallback would land at the end, where the boundary asks anyway.
    expect(askAgainAt(0, 100_000, 100_000 + FALLBACK_RETRY_MS)).toBeUndefined();
  });
});
