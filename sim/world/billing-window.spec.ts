import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { coveringWindowMinutes, impressionWindowMinutes, MIN_WINDOW_MINUTES } from "./billing-window.ts";
import { Rng } from "./rng.ts";
import { loadScenario, parseScenario } from "./scenario.ts";

const scenario = (name: string) => parseScenario(loadScenario(`sim/scenarios/${name}.json`), name);

describe("billing window", () => {
  it("billing window - leaves about the chosen share of reports late, drawn as the world draws them", () => {
    const s = scenario("late-events");
    const share = 1e-3; // large enough to count in 400,000 draws
    const windowMs = coveringWindowMinutes(s, share) * 60_000;
    const rng = new Rng(7);
    let late = 0;
    const draws = 400_000;
    // The world's report time after the decision: the break played (at most maxBreakMs) + min + exponential.
    for (let i = 0; i < draws; i++) {
      const delay =
        rng.uniform(0, s.publisher.maxBreakMs) + s.events.minDelayMs + rng.exponential(s.events.meanExtraDelayMs);
      if (delay > windowMs) late++;
    }
    expect(late / draws).toBeLessThanOrEqual(share);
    expect(late / draws).toBeGreaterThan(share / 10);
  });

  it("billing window - every shipped scenario gets at least the old 60 minutes; long delays get more", () => {
    const names = readdirSync("sim/scenarios").map((f) => f.replace(/\.json$/, ""));
    for (const name of names) expect(coveringWindowMinutes(scenario(name))).toBeGreaterThanOrEqual(MIN_WINDOW_MINUTES);
    // crowded: 1 + 2 + 5 * ln(1e6) = 72.1 minutes; late-events: 1 + 5 + 10 * ln(1e6) = 144.2 minutes.
    expect(coveringWindowMinutes(scenario("crowded"))).toBe(73);
    expect(coveringWindowMinutes(scenario("late-events"))).toBe(145);
  });

  it("billing window - an explicit number wins over auto; nonsense is refused", () => {
    const s = scenario("default");
    expect(impressionWindowMinutes("90", s)).toBe(90);
    expect(impressionWindowMinutes("auto", s)).toBe(coveringWindowMinutes(s));
    expect(() => impressionWindowMinutes("0", s)).toThrow(RangeError);
    expect(() => impressionWindowMinutes("soon", s)).toThrow(/neither auto nor minutes/);
  });
});
