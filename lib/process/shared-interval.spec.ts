import { afterEach, describe, expect, it, vi } from "vitest";
import { createLogger } from "../log/logger.ts";
import { sharedInterval } from "./shared-interval.ts";

describe("sharedInterval", () => {
  afterEach(() => vi.useRealTimers());

  it("runs every task of one period from one timer, survives a throwing task, and stops the timer with its last task", () => {
    vi.useFakeTimers();
    const runs: string[] = [];
    const a = sharedInterval("a", 1_000, () => runs.push("a"));
    vi.advanceTimersByTime(300);
    const b = sharedInterval("b", 1_000, () => runs.push("b"));
    const bad = sharedInterval(
      "bad",
      1_000,
      () => {
        throw new Error("task failed");
      },
      createLogger("shared-interval-test", "silent"),
    );
    const other = sharedInterval("other", 250, () => runs.push("o"));
    expect(vi.getTimerCount()).toBe(2);
    vi.advanceTimersByTime(700);
    // b joined a's timer: both run at a's tick, not 300 ms later.
    expect(runs.filter((r) => r !== "o")).toEqual(["a", "b"]);
    expect(runs.filter((r) => r === "o")).toHaveLength(2);
    bad.stop();
    other.stop();
    expect(vi.getTimerCount()).toBe(1);
    a.stop();
    vi.advanceTimersByTime(1_000);
    expect(runs.filter((r) => r !== "o")).toEqual(["a", "b", "b"]);
    b.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
