import { describe, expect, it } from "vitest";
import { runLedgerFault } from "./ledger-fault.ts";

describe("ledger fault", () => {
  it("durability - kill -9 of ledger, budget agent, gateways and nats-server mid-run: ledger equals the unique accepted events", async () => {
    const figures = await runLedgerFault({ eventsPerDriver: 1_500, drivers: 2, chaosEveryMs: 0, kills: 5 });
    expect(figures.eventsUnconfirmed).toBe(0);
    expect(figures.uniqueImpressions).toBeGreaterThanOrEqual(2_700);
    expect(Object.values(figures.kills).reduce((a, b) => a + b, 0)).toBe(5);
    expect(figures.ledgerSpendMicros).toBe(figures.expectedSpendMicros);
    expect(figures.rebuiltSpendMicros).toBe(figures.expectedSpendMicros);
    expect(figures.ledgerImpressions).toBe(BigInt(figures.uniqueImpressions));
    expect(figures.campaignsEqual).toBe(true);
  }, 120_000);
});
