import { describe, expect, it } from "vitest";
import { FailureWindow } from "./failure-window.ts";

describe("failure window", () => {
  it("failure window - rates only the most recent calls and waits for the minimum", () => {
    const window = new FailureWindow(4);
    window.record(true, new Error("trap"));
    expect(window.exceeds(0.1, 2)).toBe(false); // one call: not judged yet
    window.record(false);
    expect(window.exceeds(0.1, 2)).toBe(true);
    for (let i = 0; i < 4; i++) window.record(false);
    // The failure left the window of four.
    expect(window).toMatchObject({ calls: 4, failures: 0, total: 6, rate: 0 });
    expect(window.lastError).toBe("Error: trap");
    window.record(true, "late");
    expect(window.rate).toBe(0.25);
    expect(window.exceeds(0.25, 4)).toBe(false); // strictly above the threshold
    expect(window.exceeds(0.2, 4)).toBe(true);
  });
});
