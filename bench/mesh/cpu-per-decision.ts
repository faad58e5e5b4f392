import { existsSync } from "node:fs";
import http2 from "node:http2";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { Command } from "commander";
import { DecideResponseSchema } from "../../gen/chorus/v1/decision_pb.ts";
import type { Coordination, startMesh as StartMesh } from "../../launch/mesh.ts";
import { repoRoot } from "../../lib/process/launcher.ts";
import { ProcessSampler, type ProcessUsage } from "../lib/process-sampler.ts";
import { formatTable } from "../lib/report-table.ts";
import { decideRequests } from "./decide-requests.ts";

/**
 * CPU per decision of whole meshes, build against build, on a machine too busy for the open-loop bench: each
 * build's mesh (the dist/ of each checkout given) is started fresh, warmed up, then sent a fixed number of
 * decisions closed-loop (a few in flight, none timing out), and every process's CPU time over that window is
 * divided by the decisions answered. Builds take turns round by round, the order swapped every round, so that a
 * change in the machine's load falls on all of them; the table gives each process's median over the rounds.
 * Latency here means nothing (the load is closed-loop); `npm run bench` measures latency on a quiet machine.
 */
const options = new Command("cpu-per-decision")
  .option("--builds <dirs>", "checkouts whose dist/ is built, comma-separated (default: this one)", "")
  .option("--mode <mode>", "coordination", "cached")
  .option("--decisions <n>", "decisions measured per round and build", Number, 2_000)
  .option("--warmup <n>", "decisions sent before measuring (JIT, leases, caches)", Number, 1_000)
  .option("--concurrency <n>", "decisions in flight", Number, 4)
  .option("--rounds <n>", "rounds (each build once per round)", Number, 3)
  .parse()
  .opts<{
    builds: string;
    mode: Coordination;
    decisions: number;
    warmup: number;
    concurrency: number;
    rounds: number;
  }>();

const builds = options.builds ? options.builds.split(",").map((d) => resolve(d)) : [repoRoot];
const requests = decideRequests();
const bodies = requests.bodies.map((b) => Buffer.from(b, "base64"));

async function starter(dir: string): Promise<typeof StartMesh> {
  const entry = join(dir, "dist", "launch", "mesh.js");
  if (!existsSync(entry)) throw new Error(`${entry} is missing (npm run build in ${dir})`);
  return ((await import(pathToFileURL(entry).href)) as { startMesh: typeof StartMesh }).startMesh;
}

/** Unique request and user ids per request: the digits after each marker are rewritten in place. */
let serial = 0;
function nextBody(): Buffer {
  const n = serial++;
  const body = Buffer.from(bodies[n % bodies.length]!);
  for (const { marker, digits, pool } of requests.fields) {
    const at = body.indexOf(marker);
    if (at < 0) continue;
    const value = String(pool ? (n * 7_919) % pool : n)
      .padStart(digits, "0")
      .slice(-digits);
    body.write(value, at + marker.length, "latin1");
  }
  const framed = Buffer.alloc(5 + body.length);
  framed.writeUInt32BE(body.length, 1);
  body.copy(framed, 5);
  return framed;
}

interface Tally {
  ok: number;
  sold: number;
  errors: Map<string, number>;
}

function decide(session: http2.ClientHttp2Session, key: string, tally: Tally): Promise<void> {
  return new Promise((done) => {
    const stream = session.request({
      ":method": "POST",
      ":path": "/chorus.v1.DecisionService/Decide",
      "content-type": "application/grpc+proto",
      te: "trailers",
      authorization: `Bearer ${key}`,
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    stream.on("response", (h) => {
      status ??= h["grpc-status"] as string | undefined;
    });
    stream.on("trailers", (t) => {
      status = t["grpc-status"] as string | undefined;
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", () => undefined);
    stream.on("close", () => {
      if (status === "0") {
        tally.ok++;
        const all = Buffer.concat(chunks);
        if (all.length > 5 && fromBinary(DecideResponseSchema, all.subarray(5)).ads.length > 0) tally.sold++;
      } else {
        const k = `grpc-status ${status ?? "none"}`;
        tally.errors.set(k, (tally.errors.get(k) ?? 0) + 1);
      }
      done();
    });
    stream.end(nextBody());
  });
}

async function closedLoop(url: string, key: string, count: number): Promise<Tally & { seconds: number }> {
  const session = http2.connect(url);
  const tally: Tally = { ok: 0, sold: 0, errors: new Map() };
  let left = count;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (left-- > 0) await decide(session, key, tally);
    }),
  );
  session.close();
  return { ...tally, seconds: (performance.now() - started) / 1000 };
}

interface Round {
  build: string;
  round: number;
  decisions: number;
  sold: number;
  seconds: number;
  usage: ProcessUsage[];
  errors: string;
}

const rounds: Round[] = [];
for (let round = 1; round <= options.rounds; round++) {
  const order = round % 2 === 1 ? builds : [...builds].reverse();
  for (const build of order) {
    const start = await starter(build);
    const mesh = await start({ coordination: options.mode, gatewayPort: 0, silent: true, env: { LOG_LEVEL: "warn" } });
    try {
      await closedLoop(mesh.gatewayUrl, mesh.credentials.decideKey, options.warmup);
      const sampler = new ProcessSampler(500).start(mesh.processes);
      const t = await closedLoop(mesh.gatewayUrl, mesh.credentials.decideKey, options.decisions);
      const usage = sampler.stop();
      const r: Round = {
        build,
        round,
        decisions: t.ok,
        sold: t.ok ? t.sold / t.ok : 0,
        seconds: t.seconds,
        usage: usage.map((u) => ({ ...u, cpuPercent: u.cpuPercent * t.seconds })),
        errors: [...t.errors].map(([k, v]) => `${k} x${v}`).join(", "),
      };
      rounds.push(r);
      const total = r.usage.reduce((a, u) => a + u.cpuPercent, 0);
      console.error(
        `round ${round} ${build}: ${t.ok} ok in ${t.seconds.toFixed(1)} s, mesh ${Math.round((total / 100 / Math.max(1, t.ok)) * 1e6)} µs/decision ${r.errors}`,
      );
    } finally {
      await mesh.stop();
    }
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? 0;
const names = [...new Set(rounds.flatMap((r) => r.usage.map((u) => u.name)))];
// usage[].cpuPercent holds CPU-seconds x 100 here; per decision in µs.
const perDecision = (r: Round, name?: string) =>
  r.decisions > 0
    ? ((name ? r.usage.filter((u) => u.name === name) : r.usage).reduce((a, u) => a + u.cpuPercent, 0) /
        100 /
        r.decisions) *
      1e6
    : 0;
const rows = builds.map((build) => {
  const mine = rounds.filter((r) => r.build === build);
  return {
    build,
    cells: Object.fromEntries(names.map((n) => [n, Math.round(median(mine.map((r) => perDecision(r, n))))])),
    mesh: Math.round(median(mine.map((r) => perDecision(r)))),
    all: mine.map((r) => Math.round(perDecision(r))).join(" / "),
    sold: median(mine.map((r) => r.sold)).toFixed(3),
  };
});
console.log(
  `CPU per decision, µs (closed loop, ${options.concurrency} in flight, ${options.decisions} decisions per round, median of ${options.rounds} rounds, mode ${options.mode})`,
);
console.log(
  formatTable<(typeof rows)[number]>(
    [
      { header: "build", value: (r) => r.build },
      ...names.map((n) => ({
        header: n,
        value: (r: (typeof rows)[number]) => r.cells[n] ?? "-",
        align: "right" as const,
      })),
      { header: "whole mesh", value: (r) => r.mesh, align: "right" },
      { header: "whole mesh per round", value: (r) => r.all },
      { header: "sold", value: (r) => r.sold, align: "right" },
    ],
    rows,
  ),
);
