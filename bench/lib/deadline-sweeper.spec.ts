import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeadlineSweeper } from "./deadline-sweeper.ts";

interface Request {
  name: string;
  closed: boolean;
}

describe("deadline sweeper", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "performance"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("deadline sweeper - cancels each request still open past its timeout, on the sweep after it, once; closed ones never", () => {
    const cancelled: string[] = [];
    const sweeper = new DeadlineSweeper<Request>(200, {
      closed: (r) => r.closed,
      cancel: (r) => {
        cancelled.push(r.name);
        r.closed = true;
      },
    });
    const a = { name: "a", closed: false };
    const b = { name: "b", closed: false };
    const c = { name: "c", closed: false };
    sweeper.add(a); // due at 200
    vi.advanceTimersByTime(30);
    sweeper.add(b); // due at 230, answered before
    vi.advanceTimersByTime(70);
    sweeper.add(c); // due at 300
    b.closed = true;
    vi.advanceTimersByTime(100); // the sweep at 200 takes a
    expect(cancelled).toEqual(["a"]);
    vi.advanceTimersByTime(99);
    expect(cancelled).toEqual(["a"]);
    vi.advanceTimersByTime(1); // the sweep at 300 takes c
    expect(cancelled).toEqual(["a", "c"]);
    vi.advanceTimersByTime(1_000);
    expect(cancelled).toEqual(["a", "c"]);
    sweeper.stop();
  });

  it("deadline sweeper - sweeps no more once stopped", () => {
    const cancelled: string[] = [];
    const sweeper = new DeadlineSweeper<Request>(100, {
      closed: (r) => r.closed,
      cancel: (r) => cancelled.push(r.name),
    });
    sweeper.add({ name: "a", closed: false });
    sweeper.stop();
    vi.advanceTimersByTime(1_000);
    expect(cancelled).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
