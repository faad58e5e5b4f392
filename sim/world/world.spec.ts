import { timestampMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import type { AdEvent, DecideRequest } from "../../gen/chorus/v1/decision_pb.ts";
import { simMetrics } from "../metrics.ts";
import { MonolithStrategy } from "../strategies/monolith.ts";
import { parseScenario, type Scenario, ScenarioError } from "./scenario.ts";
import { SpendLedger } from "./spend-ledger.ts";
import type { SimClock, Strategy, StrategySetup } from "./strategy.ts";
import { runWorld } from "./world.ts";

const small = (over: Record<string, unknown> = {}): Scenario =>
  parseScenario({
    seed: 7,
    horizonMinutes: 60,
    listeners: { count: 150 },
    market: { advertisers: 4, campaignsPerAdvertiser: 2, budgetTightness: 0.2 },
    ...over,
  });

/** The monolith, wrapped to record when each event reached it and the clock it was given. */
class RecordingMonolith implements Strategy {
  readonly name = "recording-monolith";
  readonly realtime = false;
  clock: SimClock | undefined;
  deliveries: { event: AdEvent; atSimMs: number }[] = [];
  private readonly inner: MonolithStrategy;
  constructor(breakEveryMs: number) {
    this.inner = new MonolithStrategy(breakEveryMs);
  }
  launch = () => this.inner.launch();
  start(setup: StrategySetup) {
    this.clock = setup.clock;
    return this.inner.start(setup);
  }
  decide = (request: DecideRequest, atSimMs: number) => this.inner.decide(request, atSimMs);
  reportPlayback = () => this.inner.reportPlayback();
  reportEvents(events: readonly AdEvent[], atSimMs: number) {
    for (const event of events) this.deliveries.push({ event, atSimMs });
    return this.inner.reportEvents(events);
  }
  stop = () => this.inner.stop();
}

const run = (s: Scenario) => runWorld(s, new MonolithStrategy(s.publisher.breakEveryMinutes * 60_000));
const comparable = (o: Awaited<ReturnType<typeof run>>) => {
  const { decisionP50Ms, decisionP99Ms, ...rest } = simMetrics(o);
  return { ...rest, books: [...o.ledger.all().entries()], insertions: o.insertions, sessions: o.sessions };
};

describe("world", () => {
  it("world - the same seed replays the same market, listening and outcomes", async () => {
    const a = comparable(await run(small()));
    const b = comparable(await run(small()));
    expect(a.impressions).toBeGreaterThan(0);
    expect(b).toEqual(a);
  });

  it("world - another seed gives another world", async () => {
    const a = comparable(await run(small()));
    const b = comparable(await run(small({ seed: 8 })));
    expect(b.books).not.toEqual(a.books);
  });

  it("world - budgets are never negative in the books; delivery past a budget is overrun", async () => {
    const outcome = await run(small({ market: { advertisers: 3, campaignsPerAdvertiser: 2, budgetTightness: 0.02 } }));
    const books = [...outcome.ledger.all().values()];
    expect(books.some((b) => b.overrunMicros > 0n)).toBe(true);
    for (const b of books) {
      expect(b.billableMicros).toBeLessThanOrEqual(b.budgetMicros);
      expect(b.budgetMicros - b.billableMicros).toBeGreaterThanOrEqual(0n);
      expect(b.overrunMicros).toBeGreaterThanOrEqual(0n);
    }
  });

  it("world - every ad event is delivered, late by at least the scenario's minimum delay", async () => {
    const s = small({ events: { minDelayMs: 30_000, meanExtraDelayMs: 60_000 } });
    const strategy = new RecordingMonolith(s.publisher.breakEveryMinutes * 60_000);
    const outcome = await runWorld(s, strategy);
    expect(outcome.eventsGenerated).toBeGreaterThan(0);
    expect(outcome.eventsDelivered).toBe(outcome.eventsGenerated);
    expect(strategy.deliveries).toHaveLength(outcome.eventsGenerated);
    const epoch = strategy.clock!.toWallMs(0);
    // Every event, the last of an ad's batch included, reaches the strategy at least minDelay after it happened.
    for (const { event, atSimMs } of strategy.deliveries)
      expect(atSimMs - (timestampMs(event.occurredAt!) - epoch)).toBeGreaterThanOrEqual(30_000);
  });

  it("world - a realtime answer that comes back after its session moved on is dropped, never acted on", async () => {
    // 60 simulated minutes in about a second of wall time; each answer takes 150 ms of wall time, about 9
    // simulated minutes, and signals 50 ms: tracks end and breaks play while decisions are in flight.
    const s = small({ speedup: 3_600, listeners: { count: 40 } });
    const positions: number[] = [];
    const inner = new MonolithStrategy(s.publisher.breakEveryMinutes * 60_000);
    const slow: Strategy = {
      name: "slow-realtime",
      realtime: true,
      launch: () => inner.launch(),
      start: (setup) => inner.start(setup),
      decide: async (request, atSimMs) => {
        positions.push(request.context!.positionMs);
        await new Promise((r) => setTimeout(r, 150));
        return inner.decide(request, atSimMs);
      },
      // Signals flush before each decision; a slow flush lets other sessions' handlers run first.
      reportPlayback: () => new Promise((r) => setTimeout(r, 50)),
      reportEvents: (events) => inner.reportEvents(events),
      stop: () => inner.stop(),
    };
    const outcome = await runWorld(s, slow);
    expect(outcome.staleAnswers).toBeGreaterThan(0);
    expect(positions.length).toBeGreaterThan(outcome.staleAnswers);
    expect(positions.filter((p) => p < 0)).toEqual([]);
  });
});

describe("spend ledger", () => {
  it("spend ledger - charges up to the budget and keeps the rest as overrun", () => {
    const ledger = new SpendLedger([["c1", 1_000n]]);
    ledger.charge("c1", 600n);
    ledger.charge("c1", 600n);
    expect(ledger.remaining("c1")).toBe(0n);
    expect(ledger.get("c1")).toMatchObject({ billableMicros: 1_000n, overrunMicros: 200n, impressions: 2 });
    expect(() => ledger.charge("c1", -1n)).toThrow(/negative price/);
    expect(() => ledger.charge("nope", 1n)).toThrow(/unknown campaign nope/);
  });
});

describe("scenario", () => {
  it("scenario - names every invalid field", () => {
    expect(() => parseScenario({ horizonMinutes: "long", listeners: { count: -1, colour: 1 } })).toThrow(ScenarioError);
    try {
      parseScenario({ horizonMinutes: "long", listeners: { count: -1, colour: 1 } });
    } catch (err) {
      expect((err as Error).message).toMatch(/horizonMinutes must be a number/);
      expect((err as Error).message).toMatch(/listeners.count must be >= 0/);
      expect((err as Error).message).toMatch(/listeners.colour is not a scenario field/);
    }
  });
});
