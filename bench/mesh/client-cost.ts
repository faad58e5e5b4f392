import { loadavg } from "node:os";
import { Command, InvalidArgumentError } from "commander";
import { startChild, stopChild } from "../../lib/process/launcher.ts";
import type { Http2UnaryTarget } from "../lib/http2-unary-target.ts";
import { LoadClient } from "../lib/load-client-handle.ts";
import { measureStep } from "../lib/measure-step.ts";
import { defaultJsonPath, formatTable, writeJson } from "../lib/report-table.ts";
import { decideRequests } from "./decide-requests.ts";

type ClientName = NonNullable<Http2UnaryTarget["client"]>;
const CLIENTS: ClientName[] = ["raw-http2", "node-http2"];

const numbers = (raw: string) =>
  raw.split(",").map((s) => {
    const n = Number(s);
    if (!(n > 0)) throw new InvalidArgumentError(`"${s}" is not a positive number`);
    return n;
  });

const options = new Command("client-cost")
  .description(
    "CPU per request of the load clients, each in its own process, against the bare node:http2 echo: the clients " +
      "take turns at every rate (the order swapped each time), so that drift in the machine's load falls on both.",
  )
  .option("--rates <list>", "arrival rates, per second", numbers, [1000, 2000, 3000])
  .option("--duration <seconds>", "length of each step", Number, 10)
  .option("--repeat <n>", "rounds over the rates", Number, 3)
  .option("--sessions <n>", "HTTP/2 connections of each client", Number, 4)
  .option("--warmup <seconds>", "warm-up of each client at the lowest rate", Number, 5)
  .option("--json <path>", "where to write the results", defaultJsonPath("bench-client-cost"))
  .parse()
  .opts<{ rates: number[]; duration: number; repeat: number; sessions: number; warmup: number; json: string }>();

interface Row {
  run: number;
  rate: number;
  client: ClientName;
  done: number;
  clientCpuUs: number;
  echoCpuUs: number;
  p50: number;
  p99: number;
  errors: number;
  errorSamples: string[];
  clientLagP99: number;
  busy: number;
  load1: number;
}

const requests = decideRequests();
const echo = await startChild({ name: "bare-echo", entry: "bench/mesh/bare-echo" });
const loadClients = new Map<ClientName, LoadClient>();
for (const client of CLIENTS) loadClients.set(client, await LoadClient.start(1));
const target = (client: ClientName): Http2UnaryTarget => ({
  kind: "http2-unary",
  client,
  url: String(echo.ready.url),
  path: "/chorus.v1.DecisionService/Decide",
  protocol: "grpc",
  bodies: requests.bodies,
  fields: requests.fields,
  sessions: options.sessions,
  timeoutMs: 2_000,
});
const criteria = { sloP99Ms: 10, maxErrorRate: 0.001, stopP99Ms: 1_000 };
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rows: Row[] = [];
const loadAtStart = loadavg();
try {
  for (const client of CLIENTS)
    await loadClients.get(client)!.run(target(client), options.rates[0]!, options.warmup * 1000);
  let turn = 0;
  for (let run = 1; run <= options.repeat; run++) {
    for (const rate of options.rates) {
      const order = turn++ % 2 === 0 ? CLIENTS : [...CLIENTS].reverse();
      for (const client of order) {
        await pause(1_000);
        const step = await measureStep({
          client: loadClients.get(client)!,
          target: target(client),
          rate,
          durationMs: options.duration * 1000,
          criteria,
          processes: [{ name: "bare-echo", pid: echo.pid }],
        });
        const row: Row = {
          run,
          rate,
          client,
          done: step.throughput,
          clientCpuUs: step.clientCpuUs ?? 0,
          echoCpuUs: step.serverCpuUs ?? 0,
          p50: step.latency.p50,
          p99: step.latency.p99,
          errors: step.errors,
          errorSamples: step.errorSamples,
          clientLagP99: step.clientLagP99,
          busy: step.machine?.busyPercent ?? 0,
          load1: Math.round(loadavg()[0]! * 100) / 100,
        };
        rows.push(row);
        console.error(JSON.stringify(row));
      }
    }
  }
} finally {
  await Promise.all([...loadClients.values()].map((c) => c.close()));
  await stopChild(echo.process);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const summary = options.rates.flatMap((rate) =>
  CLIENTS.map((client) => {
    const of = rows.filter((r) => r.rate === rate && r.client === client);
    return {
      rate,
      client,
      runs: of.map((r) => r.clientCpuUs).join(" / "),
      median: median(of.map((r) => r.clientCpuUs)),
      p50: median(of.map((r) => r.p50)),
      p99: median(of.map((r) => r.p99)),
      load: of.map((r) => r.load1).join(" / "),
    };
  }),
);
console.log("\nEvery step (bare node:http2 echo, gRPC, open loop)");
console.log(
  formatTable<Row>(
    [
      { header: "run", value: (r) => r.run },
      { header: "rate/s", value: (r) => r.rate },
      { header: "client", value: (r) => r.client },
      { header: "done/s", value: (r) => r.done },
      { header: "client CPU µs/req", value: (r) => r.clientCpuUs },
      { header: "echo CPU µs/req", value: (r) => r.echoCpuUs },
      { header: "p50 ms", value: (r) => r.p50 },
      { header: "p99 ms", value: (r) => r.p99 },
      { header: "errors", value: (r) => (r.errors ? `${r.errors} (${r.errorSamples.join(", ")})` : 0) },
      { header: "client lag p99 ms", value: (r) => r.clientLagP99 },
      { header: "machine busy %", value: (r) => r.busy },
      { header: "load (1 min)", value: (r) => r.load1 },
    ],
    rows,
  ),
);
console.log("\nLoad client CPU per request, µs (median of the runs)");
console.log(
  formatTable(
    [
      { header: "rate/s", value: (r: (typeof summary)[number]) => r.rate },
      { header: "client", value: (r) => r.client },
      { header: "median", value: (r) => r.median },
      { header: "runs", value: (r) => r.runs },
      { header: "p50 ms", value: (r) => r.p50 },
      { header: "p99 ms", value: (r) => r.p99 },
      { header: "load (1 min) per run", value: (r) => r.load },
    ],
    summary,
  ),
);
const path = writeJson(options.json, {
  benchmark: "client-cost",
  startedAt: new Date().toISOString(),
  options,
  load: { atStart: loadAtStart, atEnd: loadavg() },
  rows,
  summary,
});
console.log(`\nresults: ${path}`);
