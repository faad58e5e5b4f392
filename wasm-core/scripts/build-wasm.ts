/**
 * `npm run build:wasm`: compiles the kernel (SIMD and scalar release builds, each with its .wat snapshot), the
 * agents' scoring modules (agent scoring ABI, assembly/agents/) and the chaos test fixture, then checks the
 * snapshots: the SIMD build must still contain the f32x4 dot product and vote, the scalar builds no v128 at all,
 * and none may import anything.
 */
import { readFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";
import { AGENT_MAX_MEMORY_PAGES, SCORING_AGENTS } from "../src/agent-scoring-abi.ts";
import { KERNEL_MAX_MEMORY_PAGES } from "../src/kernel-abi.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const release = ["-O3", "--noAssert", "--runtime", "stub", "--noColors"];
// Every shipped build declares a memory maximum: the memory cap is on by default (modules/module-config.ts).
const kernelMemory = ["--maximumMemory", String(KERNEL_MAX_MEMORY_PAGES)];
const agentMemory = ["--maximumMemory", String(AGENT_MAX_MEMORY_PAGES)];

const builds = [
  {
    entry: "assembly/kernel.ts",
    out: "build/kernel-simd",
    flags: ["--enable", "simd", ...kernelMemory],
    simd: true,
    snapshot: true,
  },
  { entry: "assembly/kernel.ts", out: "build/kernel-scalar", flags: kernelMemory, simd: false, snapshot: true },
  ...SCORING_AGENTS.map((agent) => ({
    entry: `assembly/agents/${agent}.ts`,
    out: `build/agents/${agent}`,
    flags: agentMemory,
    simd: false,
    snapshot: true,
  })),
  {
    entry: "assembly/fixtures/chaos-kernel.ts",
    out: "build/fixtures/chaos-kernel",
    flags: ["--enable", "simd"],
    simd: true,
    snapshot: false,
  },
];

for (const build of builds) {
  const args = [build.entry, "--baseDir", root, ...release, ...build.flags];
  args.push("--outFile", `${build.out}.wasm`, "--textFile", `${build.out}.wat`);
  const { error, stderr } = await asc.main(args);
  if (error) {
    process.stderr.write(stderr.toString());
    throw new Error(`asc failed for ${build.out}: ${error.message}`);
  }
  const watFile = join(root, `${build.out}.wat`);
  const wat = await readFile(watFile, "utf8");
  if (!build.snapshot) await rm(watFile);
  const problems: string[] = [];
  if (/\(import /.test(wat)) problems.push("imports something");
  if (build.snapshot && !/\(memory \$0 \d+ \d+\)/.test(wat)) problems.push("declares no memory maximum");
  if (build.simd) {
    for (const op of ["f32x4.mul", "f32x4.add", "v128.load"]) if (!wat.includes(op)) problems.push(`lost ${op}`);
  } else if (/v128|f32x4/.test(wat)) {
    problems.push("contains SIMD instructions");
  }
  if (problems.length > 0) throw new Error(`${build.out}: ${problems.join(", ")}`);
  console.log(`built ${build.out}.wasm (${build.simd ? "simd" : "scalar"})`);
}
