import { create } from "@bufbuild/protobuf";
import { Command } from "commander";
import { seedCampaigns } from "../../agents/budget/budget-fixture.ts";
import { BudgetService } from "../../agents/budget/budget-service.ts";
import { ReportEventsRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { createEventSink } from "../../ledger/event-sink.ts";
import { Ledger } from "../../ledger/ledger.ts";
import { adEvent } from "../../ledger/ledger-test-kit.ts";
import { ReceiptStore } from "../../ledger/receipt-store.ts";
import { createSpendGuard } from "../../ledger/spend-guard.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { connectNats } from "../../lib/nats/connect.ts";
import { NatsServerProcess } from "../../lib/nats/nats-server-process.ts";
import { createBudgetState } from "../../voting/budget/state.ts";
import { type LatencySummary, summarize } from "../lib/latency-histogram.ts";
import { runOpenLoop, type Send } from "../lib/open-loop.ts";
import { defaultJsonPath, formatTable, writeJson } from "../lib/report-table.ts";

/**
 * npm run bench:ledger -- --rates 500,1000,2000 --duration-ms 5000
 * Open-loop latency of the two money calls on a gateway's request path, against a real nats-server with the
 * ledger and the Budget agent running: SpendGuard.commit (one decision receipt, awaited JetStream ack) and
 * EventSink.report (one impression per call: receipt lookup, checks, store, ack).
 */
const opts = new Command("bench:ledger")
  .option("--rates <list>", "arrival rates per second", "500,1000,2000")
  .option("--duration-ms <ms>", "duration of each step", "5000")
  .parse()
  .opts<{ rates: string; durationMs: string }>();
const rates = opts.rates.split(",").map(Number);
const durationMs = Number(opts.durationMs);
const logger = createLogger("bench-ledger", "warn");

const server = await new NatsServerProcess().start();
const nc = await connectNats({ servers: server.url, name: "bench-gateway" });
const catalog = await seedCampaigns(await import("@nats-io/jetstream").then((m) => m.jetstream(nc)), [
  { id: "bench", budgetMicros: 1_000_000_000_000n },
]);
const service = await BudgetService.start({
  nc: await connectNats({ servers: server.url, name: "bench-budget" }),
  catalog,
  state: createBudgetState(),
  logger,
  policy: { leaseTtlMs: 2_000, reclaimGraceMs: 500 },
});
const ledger = await Ledger.start({
  nc: await connectNats({ servers: server.url, name: "bench-ledger" }),
  log: logger,
});
const receipts = await ReceiptStore.open(nc);
const guard = await createSpendGuard({ nc, gatewayId: "bench", logger, retryAfterMs: 20, receipts });
const sink = await createEventSink({ nc, receipts });
while (guard.headroom("bench") === 0n) await new Promise((r) => setTimeout(r, 50));

interface Row {
  call: string;
  rate: number;
  completed: number;
  errors: number;
  latency: LatencySummary;
  errorSamples: string[];
}
const rows: Row[] = [];
const sold: string[] = [];
let n = 0;
const commit: Send = async () => {
  const id = `d-${n++}`;
  const items = await guard.commit(id, [{ campaignId: "bench", creativeId: "bench-cr", priceMicros: 1_000n }]);
  if (items.length === 0) throw new Error("no headroom");
  sold.push(id);
};
let reported = 0;
const report: Send = async () => {
  const id = sold[reported++];
  if (!id) throw new Error("nothing sold to report");
  const res = await sink.report(
    create(ReportEventsRequestSchema, { events: [adEvent(`i-${id}`, id, "bench-cr", Date.now())] }),
  );
  if (res.accepted !== 1) throw new Error(res.results[0]?.reason ?? "not accepted");
};
for (const rate of rates)
  for (const [call, send] of [
    ["SpendGuard.commit", commit],
    ["EventSink.report", report],
  ] as const) {
    const result = await runOpenLoop({ rate, durationMs, send });
    rows.push({
      call,
      rate,
      completed: result.completed,
      errors: result.errors,
      latency: summarize(result.latency),
      errorSamples: result.errorSamples,
    });
  }
await ledger.caughtUp(60_000);
console.log(
  formatTable<Row>(
    [
      { header: "call", value: (r) => r.call, align: "left" },
      { header: "rate/s", value: (r) => r.rate },
      { header: "completed", value: (r) => r.completed },
      { header: "errors", value: (r) => r.errors },
      { header: "p50 ms", value: (r) => r.latency.p50 },
      { header: "p90 ms", value: (r) => r.latency.p90 },
      { header: "p99 ms", value: (r) => r.latency.p99 },
      { header: "max ms", value: (r) => r.latency.max },
    ],
    rows,
  ),
);
for (const r of rows)
  if (r.errorSamples.length) console.log(`${r.call} @ ${r.rate}/s errors: ${r.errorSamples.join("; ")}`);
console.log(`ledger: ${ledger.totals.spend("bench")} micros charged for ${sold.length} sold ads`);
console.log(`results: ${writeJson(defaultJsonPath("ledger"), { rates, durationMs, rows })}`);
await service.stop();
await ledger.stop();
catalog.close();
await nc.close();
await server.stop();
process.exit(0);
