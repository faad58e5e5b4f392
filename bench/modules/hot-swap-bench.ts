/**
 * `npm run bench:modules`: what hot-swapping costs a kernel under open-loop load (bench/lib/open-loop.ts, HDR
 * histograms). One phase per rollout step at the same fixed arrival rate, through a ModuleRouter following a
 * real nats-server: active only; an activation in the middle of the phase; a 10% canary; a shadow. Reports
 * latency percentiles, failed decisions and how long the activation took to reach the router, as a table on
 * stdout and JSON under bench-results/.
 *
 *   npm run bench:modules -- --rate 2000 --seconds 4
 */
import { parseArgs } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { connectNats } from "../../lib/nats/connect.ts";
import { NatsServerProcess } from "../../lib/nats/nats-server-process.ts";
import { kernelModuleKind } from "../../modules/kernel-module-kind.ts";
import { ModuleOperations } from "../../modules/module-operations.ts";
import { ModuleRegistry } from "../../modules/module-registry.ts";
import { ModuleVerifier } from "../../modules/module-verifier.ts";
import { serveRollbackRequests } from "../../modules/rollback-requests.ts";
import { generateSigningKey, parsePrivateKey, TrustedKeys } from "../../modules/signing-keys.ts";
import { startKernelModules } from "../../modules/start-kernel-modules.ts";
import { CAPACITY, inventory, logger, requests, testConfig } from "../../modules/testing/hot-swap-fixture.ts";
import { buildKernelVariant, kernelVariants } from "../../modules/testing/kernel-variants.ts";
import { KERNEL_ABI_VERSION, readKernelWasm } from "../../wasm-core/src/mod.ts";
import { summarize } from "../lib/latency-histogram.ts";
import { runOpenLoop } from "../lib/open-loop.ts";
import { defaultJsonPath, formatTable, writeJson } from "../lib/report-table.ts";

const { values } = parseArgs({
  options: { rate: { type: "string", default: "2000" }, seconds: { type: "string", default: "4" } },
});
const rate = Number(values.rate);
const durationMs = Number(values.seconds) * 1000;

const server = await new NatsServerProcess().start();
const nc = await connectNats({ servers: server.url, name: "bench-modules" });
const js = jetstream(nc);
const key = generateSigningKey();
const verifier = new ModuleVerifier({
  trustedKeys: TrustedKeys.parse(key.publicKeyPem),
  kinds: { kernel: kernelModuleKind },
  selfTestBudgetMs: 5_000,
});
const registry = await ModuleRegistry.open(js);
const operations = new ModuleOperations(registry, verifier, "bench");
// The operator side's rollout steward applies the automatic rollbacks the router asks for.
serveRollbackRequests(nc, registry, logger);
const publish = async (version: string, bytes: Uint8Array) =>
  operations.publish(bytes, {
    module: "kernel",
    version,
    abiVersion: KERNEL_ABI_VERSION,
    privateKey: parsePrivateKey(key.privateKeyPem),
    author: "bench",
  });
await publish("1.0.0", readKernelWasm("simd"));
await publish("1.1.0", await buildKernelVariant(kernelVariants.build(2)));
await publish("1.2.0", await buildKernelVariant(kernelVariants.build(3)));
await operations.activate("kernel", "1.0.0");

const modules = await startKernelModules({
  js,
  nc,
  config: { ...testConfig, reportIntervalMs: 1_000, callTimeoutMs: 250 },
  actor: "bench-gateway",
  logger,
  pool: { capacity: CAPACITY, size: 1 },
  verifier,
});
modules.router.setInventory(inventory);

let n = 0;
const send = async () => {
  const i = n++;
  await modules.router.decide(requests[i % requests.length]!, `bench-${i}`);
};

interface Phase {
  name: string;
  /** Runs during the phase (from its start). */
  during?: () => Promise<number | undefined>;
}
const phases: Phase[] = [
  { name: "active only" },
  {
    name: "activation mid-phase",
    during: async () => {
      await new Promise((r) => setTimeout(r, durationMs / 2));
      const started = performance.now();
      await operations.activate("kernel", "1.1.0");
      while (modules.router.activeVersion !== "1.1.0") await new Promise((r) => setTimeout(r, 1));
      return performance.now() - started;
    },
  },
  { name: "canary 10%" },
  { name: "shadow" },
];
const setups: Record<string, () => Promise<unknown>> = {
  "canary 10%": () => operations.canary("kernel", "1.2.0", 10),
  shadow: async () => {
    await operations.canary("kernel", "1.2.0", 0);
    await operations.shadow("kernel", "1.2.0");
  },
};

const rows: Array<Record<string, number | string>> = [];
for (const phase of phases) {
  await setups[phase.name]?.();
  await modules.watcher.settled();
  await new Promise((r) => setTimeout(r, 300)); // trial pools start
  const [result, swapMs] = await Promise.all([runOpenLoop({ rate, durationMs, send }), phase.during?.()]);
  const latency = summarize(result.latency);
  rows.push({
    phase: phase.name,
    rate,
    completed: result.completed,
    failed: result.errors,
    p50: latency.p50,
    p90: latency.p90,
    p99: latency.p99,
    p999: latency.p999,
    max: latency.max,
    swapMs: swapMs === undefined ? "-" : swapMs.toFixed(1),
  });
}
const stats = modules.router.stats();

const columns = Object.keys(rows[0]!).map((header) => ({
  header: header === "swapMs" ? "activate->router ms" : /^(p\d+|max)$/.test(header) ? `${header} ms` : header,
  value: (row: Record<string, number | string>) => row[header]!,
}));
console.log(formatTable(columns, rows));
console.log(`shadow: ${JSON.stringify(stats.shadow)}`);
console.log(`written ${writeJson(defaultJsonPath("modules-hot-swap"), { rate, durationMs, rows, stats })}`);

await modules.close();
await nc.close();
await server.stop();
