import { startMesh } from "../../launch/mesh.ts";
import { ProcessSampler } from "../lib/process-sampler.ts";

/**
 * The CPU of the whole mesh with no load at all (timers, liveness signals, reports, consumers): starts it as
 * `npm start` does, lets it settle 5 s, samples every process for N seconds (argument, default 20) and prints one
 * JSON line. `npm run bench` measures the same before each mode's warm-up (`--idle`); this runs it alone, e.g. in
 * two checkouts one after the other to compare commits: `node dist/bench/mesh/idle-mesh.js 20`.
 */
const seconds = Number(process.argv[2] ?? 20);
const mesh = await startMesh({ coordination: "cached", gatewayPort: 0, silent: true, env: { LOG_LEVEL: "warn" } });
try {
  await new Promise((r) => setTimeout(r, 5_000));
  const sampler = new ProcessSampler(1_000).start(mesh.processes);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const usage = sampler.stop();
  const total = Math.round(usage.reduce((a, p) => a + p.cpuPercent, 0) * 10) / 10;
  console.log(
    JSON.stringify({
      wholeMeshPercentOfCore: total,
      processes: Object.fromEntries(usage.map((p) => [p.name, p.cpuPercent])),
      machine: sampler.machine,
    }),
  );
} finally {
  await mesh.stop();
}
