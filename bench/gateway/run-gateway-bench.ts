/**
 * npm run bench:gateway — server CPU per request and latency of the gateway's protocol layer against its
 * baselines, each server in its own child process, load from h2load at a fixed arrival rate (open loop).
 *
 *   npm run bench:gateway -- --rps 2000 --duration 10 --cases decide
 *   npm run bench:gateway -- --cases "decide, grpc$" --profile /tmp/prof   (then open the .cpuprofile)
 *
 * CPU per request = process.cpuUsage() of the server process over the measured run / requests answered.
 * Table on stdout, JSON in bench-results/gateway.json. See bench/gateway/README.md.
 */
import { type ChildProcess, fork } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { StringValueSchema } from "@bufbuild/protobuf/wkt";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Command } from "commander";
import { bearer, withApiKey } from "../../gateway/auth/client-key.ts";
import { decideRequest } from "../../gateway/testing/sample-requests.ts";
import { DecideRequestSchema, DecisionService } from "../../gen/chorus/v1/decision_pb.ts";
import { NatsServerProcess } from "../../lib/nats/nats-server-process.ts";
import { formatTable, writeJson } from "../lib/report-table.ts";
import type { ServerKind } from "./bench-server.ts";
import { echoPath } from "./echo-service.ts";
import { h2load, type LoadResult } from "./h2load.ts";

type Wire = "connect-proto" | "connect-json" | "grpc" | "grpc-web";

interface BenchCase {
  name: string;
  server: ServerKind;
  wire: Wire;
  path: string;
  message: "echo" | "decide";
}

const decidePath = "/chorus.v1.DecisionService/Decide";
const cases: BenchCase[] = [
  { name: "node:http2 bare echo", server: "bare-http2", wire: "grpc", path: echoPath, message: "echo" },
  {
    name: "connect-node echo, Connect",
    server: "connect-node",
    wire: "connect-proto",
    path: echoPath,
    message: "echo",
  },
  { name: "connect-node echo, gRPC", server: "connect-node", wire: "grpc", path: echoPath, message: "echo" },
  { name: "grpc-js echo, gRPC", server: "grpc-js", wire: "grpc", path: echoPath, message: "echo" },
  {
    name: "gateway Decide, Connect binary",
    server: "gateway",
    wire: "connect-proto",
    path: decidePath,
    message: "decide",
  },
  {
    name: "gateway Decide, Connect JSON",
    server: "gateway",
    wire: "connect-json",
    path: decidePath,
    message: "decide",
  },
  { name: "gateway Decide, gRPC", server: "gateway", wire: "grpc", path: decidePath, message: "decide" },
  { name: "gateway Decide, gRPC-Web", server: "gateway", wire: "grpc-web", path: decidePath, message: "decide" },
  {
    name: "gateway Decide, Connect binary, connect-node only",
    server: "gateway-connect-node-only",
    wire: "connect-proto",
    path: decidePath,
    message: "decide",
  },
  {
    name: "gateway Decide, gRPC, connect-node only",
    server: "gateway-connect-node-only",
    wire: "grpc",
    path: decidePath,
    message: "decide",
  },
];

const wireHeaders: Record<Wire, Record<string, string>> = {
  "connect-proto": { "content-type": "application/proto", "connect-protocol-version": "1" },
  "connect-json": { "content-type": "application/json", "connect-protocol-version": "1" },
  grpc: { "content-type": "application/grpc", te: "trailers" },
  "grpc-web": { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
};

function body(c: BenchCase): Uint8Array {
  const json = c.wire === "connect-json";
  const bytes =
    c.message === "echo"
      ? encode(json, StringValueSchema, create(StringValueSchema, { value: "x".repeat(64) }))
      : encode(json, DecideRequestSchema, decideRequest("bench-1"));
  if (c.wire.startsWith("connect")) return bytes;
  const frame = Buffer.alloc(5 + bytes.byteLength);
  frame.writeUInt32BE(bytes.byteLength, 1);
  frame.set(bytes, 5);
  return frame;
}

function encode<S extends typeof StringValueSchema | typeof DecideRequestSchema>(
  json: boolean,
  schema: S,
  message: Parameters<typeof toBinary<S>>[1],
): Uint8Array {
  return json ? Buffer.from(toJsonString(schema, message)) : toBinary(schema, message);
}

/** One real client call before the load, so a table row never reports the speed of an error. */
async function verify(c: BenchCase, baseUrl: string, apiKey: string): Promise<void> {
  if (c.message !== "decide") return;
  const interceptors = [withApiKey(apiKey)];
  const transports: Record<Wire, () => Transport> = {
    "connect-proto": () => createConnectTransport({ baseUrl, httpVersion: "2", interceptors }),
    "connect-json": () => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: false, interceptors }),
    grpc: () => createGrpcTransport({ baseUrl, interceptors }),
    "grpc-web": () => createGrpcWebTransport({ baseUrl, httpVersion: "2", interceptors }),
  };
  const response = await createClient(DecisionService, transports[c.wire]()).decide(decideRequest("verify"));
  if (response.ads.length !== 3) throw new Error(`${c.name}: expected a 3-ad pod, got ${response.ads.length}`);
}

interface Row extends LoadResult {
  name: string;
  cpuMicrosPerRequest: number;
  /** Every round's CPU per request; the row shows the round with the median. */
  cpuSamples?: number[];
}

async function startServer(kind: ServerKind, natsUrl: string, profileDir?: string) {
  // One folder per server process: node writes a profile per thread (main, and tsx's loader worker).
  const profile = profileDir ? ["--cpu-prof", "--cpu-prof-dir", join(profileDir, `${kind}-${Date.now()}`)] : [];
  const child = fork(fileURLToPath(new URL("./bench-server.ts", import.meta.url)), [kind], {
    execArgv: ["--import", "tsx", ...profile],
    env: { ...process.env, BENCH_NATS_URL: natsUrl },
  });
  const { port, apiKey } = await new Promise<{ port: number; apiKey: string }>((resolve, reject) => {
    child.once("message", (m) => resolve(m as { port: number; apiKey: string }));
    child.once("exit", (code) => reject(new Error(`bench server ${kind} exited with ${code}`)));
  });
  return { child, port, apiKey };
}

function ask(child: ChildProcess, message: string): Promise<unknown> {
  return new Promise((resolve) => {
    child.once("message", resolve);
    child.send(message);
  });
}

async function measure(c: BenchCase, opts: Options, natsUrl: string): Promise<Row> {
  const { child, port, apiKey } = await startServer(c.server, natsUrl, opts.profile);
  try {
    const url = `http://127.0.0.1:${port}${c.path}`;
    await verify(c, `http://127.0.0.1:${port}`, apiKey);
    const headers = apiKey ? { ...wireHeaders[c.wire], ...bearer(apiKey) } : wireHeaders[c.wire];
    const load = { url, headers, body: body(c), rps: opts.rps, clients: opts.clients };
    await h2load({ ...load, durationSeconds: opts.warmup }); // JIT, pools, connection setup
    child.send("start");
    const result = await h2load({ ...load, durationSeconds: opts.duration });
    const { cpuMicros } = (await ask(child, "stop")) as { cpuMicros: number };
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.send("exit");
    await exited;
    return { name: c.name, ...result, cpuMicrosPerRequest: cpuMicros / Math.max(1, result.requests) };
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

interface Options {
  rps: number;
  duration: number;
  warmup: number;
  clients: number;
  cases?: string;
  out: string;
  profile?: string;
  repeat: number;
}

const opts = new Command()
  .option("--rps <n>", "total arrival rate, requests per second", Number, 1000)
  .option("--duration <s>", "measured seconds per case", Number, 5)
  .option("--warmup <s>", "warm-up seconds per case (not measured)", Number, 2)
  .option("--clients <n>", "HTTP/2 connections", Number, 4)
  .option("--repeat <n>", "rounds over all cases; each row is the median round (use 3+ on a shared machine)", Number, 1)
  .option("--cases <regex>", "run only the cases whose name matches (case-insensitive)")
  .option("--out <file>", "JSON results", "bench-results/gateway.json")
  .option("--profile <dir>", "write a V8 CPU profile of each server process into this folder")
  .parse()
  .opts<Options>();

const filter = opts.cases ? new RegExp(opts.cases, "i") : undefined;
const selected = cases.filter((c) => !filter || filter.test(c.name));
const nats = await new NatsServerProcess().start();
// Rounds interleave the cases, so a burst of load from elsewhere on a shared machine hits one round of each case
// rather than every round of one case; each row is its case's median round.
const rounds = new Map<string, Row[]>(selected.map((c) => [c.name, []]));
try {
  for (let round = 0; round < opts.repeat; round++) {
    for (const c of selected) {
      const row = await measure(c, opts, nats.url);
      rounds.get(c.name)!.push(row);
      process.stderr.write(`${c.name}: ${row.cpuMicrosPerRequest.toFixed(1)} us CPU/request\n`);
    }
  }
} finally {
  await nats.stop();
}
const rows: Row[] = [...rounds.values()].map((runs) => {
  const sorted = [...runs].sort((a, b) => a.cpuMicrosPerRequest - b.cpuMicrosPerRequest);
  return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, cpuSamples: runs.map((r) => r.cpuMicrosPerRequest) };
});

const title =
  `Gateway protocol cost: ${opts.rps} req/s open loop, ${opts.clients} connections, ${opts.duration} s per case, ` +
  `median of ${opts.repeat} round(s), ` +
  `${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, node ${process.version}`;
console.log(`\n${title}\n`);
console.log(
  formatTable<Row>(
    [
      { header: "case", value: (r) => r.name },
      { header: "server CPU us/req", value: (r) => Number(r.cpuMicrosPerRequest.toFixed(1)) },
      { header: "req/s", value: (r) => Math.round(r.achievedRps) },
      { header: "p50 ms", value: (r) => r.latency.p50 },
      { header: "p90 ms", value: (r) => r.latency.p90 },
      { header: "p99 ms", value: (r) => r.latency.p99 },
      { header: "max ms", value: (r) => r.latency.max },
      { header: "non-200", value: (r) => r.failures },
      // Below 95% of the offered rate the server was overloaded: queues grow and CPU per request is inflated.
      { header: "kept up", value: (r) => (r.achievedRps >= 0.95 * opts.rps ? "yes" : "NO (overloaded)") },
    ],
    rows,
  ),
);
const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, load: loadavg() };
console.log(
  `\nJSON: ${writeJson(opts.out, { benchmark: "gateway", date: new Date().toISOString(), machine, options: opts, results: rows })}`,
);
