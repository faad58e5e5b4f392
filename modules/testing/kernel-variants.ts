/**
 * Kernel modules for the hot-swap tests, compiled from wasm-core's real AssemblyScript kernel: each variant is a
 * small entry file that re-exports the kernel and changes one thing (a build number, prices, a latent trap or
 * loop, a forbidden import, a missing export, another ABI). Nothing is committed: `buildKernelVariant` compiles
 * on demand (release flags of wasm-core/scripts/build-wasm.ts) and caches by source hash under the OS temp dir.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";
import { KERNEL_MAX_MEMORY_PAGES } from "../../wasm-core/src/kernel-abi.ts";

const wasmCore = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "wasm-core");
/** The kernel's sources (wasm-core/assembly): a change to any of them must rebuild a cached variant. */
const KERNEL_SOURCES = ["kernel.ts", "layout.ts", "scoring.ts", "pod.ts"].map((f) => `assembly/${f}`);
const RELEASE = ["-O3", "--noAssert", "--runtime", "stub", "--noColors", "--enable", "simd"];
const REEXPORT = 'export { ABI_VERSION, KERNEL_SIMD, MAX_ADS, configure, regionOffset } from "../kernel";';
const DECIDE_PARAMS = `candidates: i32, dimensions: i32, agents: i32, relevanceWeight: f32, reservePrice: f32,
  auctionType: i32, maxAds: i32, maxDurationMs: i32`;
const DECIDE_ARGS = "candidates, dimensions, agents, relevanceWeight, reservePrice, auctionType, maxAds, maxDurationMs";

/** An entry that replaces `decide` by `body`, which may call the real one as kernelDecide(DECIDE_ARGS). */
function wrapDecide(body: string, prelude = ""): string {
  return `import { decide as kernelDecide, regionOffset } from "../kernel";
${REEXPORT}
${prelude}
export function decide(${DECIDE_PARAMS}): i32 {
${body}
}`;
}

/** The real kernel, then `change` to its output on every `every`-th call that chose at least one ad. */
function rareOutput(every: number, change: string): string {
  return wrapDecide(
    `  const count = kernelDecide(${DECIDE_ARGS});
  if (count > 0 && ++calls % ${every} == 0) {
    ${change}
  }
  return count;`,
    "let calls: i32 = 0;",
  );
}

/** Calls after which driftLater changes behaviour, per instance: more than the golden self-test makes. */
export const LATENT_AFTER_CALLS = 40;

export const kernelVariants = {
  /** The real kernel with a build number: a legitimate new version, same decisions. */
  build: (n: number) => `export { decide } from "../kernel";\n${REEXPORT}\nexport const BUILD: i32 = ${n};`,
  /** Same pods, prices shaded by 10% (never under the reserve): passes the self-test, differs in shadow. */
  priceShade: () =>
    wrapDecide(`  const count = kernelDecide(${DECIDE_ARGS});
  const prices = <usize>regionOffset(19);
  for (let t = 0; t < count; t++) {
    const at = prices + (<usize>t << 2);
    const shaded = load<f32>(at) * 0.9;
    store<f32>(at, shaded < reservePrice ? reservePrice : shaded);
  }
  return count;`),
  /**
   * Correct for LATENT_AFTER_CALLS calls (so it passes the self-test), then weighs relevance eight times as much
   * and shades prices (never under the reserve): other pods, still within the output contract — a behaviour
   * change only live traffic shows, which is what shadow mode is for.
   */
  driftLater: () =>
    wrapDecide(
      `  const late = ++calls > ${LATENT_AFTER_CALLS};
  const count = kernelDecide(candidates, dimensions, agents, late ? relevanceWeight * 8 : relevanceWeight, reservePrice,
    auctionType, maxAds, maxDurationMs);
  if (late) {
    const prices = <usize>regionOffset(19);
    for (let t = 0; t < count; t++) {
      const at = prices + (<usize>t << 2);
      const shaded = load<f32>(at) * 0.9;
      store<f32>(at, shaded < reservePrice ? reservePrice : shaded);
    }
  }
  return count;`,
      "let calls: i32 = 0;",
    ),
  /**
   * Hostile kernels for the containment tests: each is the real kernel except on every `every`-th call of its
   * instance (counted from 1, so never before call `every`; keep it above the self-test's call count), when it:
   */
  /** never returns (a new worker starts counting again: the motivating case of a hang every few hundred calls). */
  hangEvery: (every: number) =>
    wrapDecide(
      `  if (++calls % ${every} == 0) {
    while (spins >= 0) spins = (spins + 1) & 0x3fffffff;
  }
  return kernelDecide(${DECIDE_ARGS});`,
      "let calls: i32 = 0;\nlet spins: i32 = 0;",
    ),
  /** prices its first ad NaN. */
  nanEvery: (every: number) => rareOutput(every, "store<f32>(<usize>regionOffset(19), NaN);"),
  /** names a winner past the last candidate. */
  indexOutOfRangeEvery: (every: number) => rareOutput(every, "store<i32>(<usize>regionOffset(18), candidates + 5);"),
  /** charges its first ad far above its bid. */
  overBidEvery: (every: number) =>
    rareOutput(every, "store<f32>(<usize>regionOffset(19), load<f32>(<usize>regionOffset(19)) * 1000 + 1000000);"),
  /** Charges its first ad far above its bid on every call with this reserve price (see trapOnReserve). */
  overBidOnReserve: (reserve: number) =>
    wrapDecide(`  const count = kernelDecide(${DECIDE_ARGS});
  if (count > 0 && reservePrice == ${reserve})
    store<f32>(<usize>regionOffset(19), load<f32>(<usize>regionOffset(19)) * 1000 + 1000000);
  return count;`),
  /** replaces its first ad by a vetoed candidate (when the request vetoes any). */
  vetoedWinnerEvery: (every: number) =>
    rareOutput(
      every,
      `const veto = <usize>regionOffset(8);
    for (let c = 0; c < candidates; c++) {
      if (load<u32>(veto + (<usize>c << 2)) != 0) {
        store<i32>(<usize>regionOffset(18), c);
        break;
      }
    }`,
    ),
  /** Grows its memory by 4 MiB on every call and traps once memory.grow fails (at its declared maximum). */
  growMemory: () =>
    wrapDecide(`  if (memory.grow(64) < 0) unreachable();
  return kernelDecide(${DECIDE_ARGS});`),
  /** Ignores vetoes: wrong pods, fails the self-test. */
  ignoreVetoes: () =>
    wrapDecide(`  memory.fill(<usize>regionOffset(8), 0, <usize>candidates << 2);
  return kernelDecide(${DECIDE_ARGS});`),
  /**
   * Traps on every call with this reserve price, a value the golden cases never use: a latent fault that
   * passes every check and fires on live traffic.
   */
  trapOnReserve: (reserve: number) =>
    wrapDecide(`  if (reservePrice == ${reserve}) unreachable();
  return kernelDecide(${DECIDE_ARGS});`),
  /** Never returns from a call with this reserve price (see trapOnReserve). */
  loopOnReserve: (reserve: number) =>
    wrapDecide(
      `  if (reservePrice == ${reserve}) {
    // A loop with a visible side effect, so no optimizer may drop it.
    while (spins >= 0) spins = (spins + 1) & 0x3fffffff;
  }
  return kernelDecide(${DECIDE_ARGS});`,
      "let spins: i32 = 0;",
    ),
  /** Traps on its first call: fails the self-test. */
  trapAlways: () => wrapDecide("  unreachable();\n  return 0;"),
  /** Loops on its first call: the self-test runs out of time. */
  loopAlways: () =>
    wrapDecide(
      `  while (spins >= 0) spins = (spins + 1) & 0x3fffffff;
  return kernelDecide(${DECIDE_ARGS});`,
      "let spins: i32 = 0;",
    ),
  /** Loops in its start function, i.e. while being instantiated. */
  startLoop: () =>
    `export { decide } from "../kernel";\n${REEXPORT}\nlet spins: i32 = 0;\nwhile (spins >= 0) spins = (spins + 1) & 0x3fffffff;`,
  /** Imports a WASI function (a host escape). */
  forbiddenImport: () =>
    wrapDecide(
      `  if (reservePrice == -3333) procExit(1);
  return kernelDecide(${DECIDE_ARGS});`,
      '@external("wasi_snapshot_preview1", "proc_exit")\ndeclare function procExit(code: i32): void;',
    ),
  /** Lacks the regionOffset export the host needs to find its buffers. */
  missingExport: () => 'export { ABI_VERSION, KERNEL_SIMD, MAX_ADS, configure, decide } from "../kernel";',
  /** Claims ABI 2. */
  abiTwo: () =>
    'export { KERNEL_SIMD, MAX_ADS, configure, regionOffset, decide } from "../kernel";\nexport const ABI_VERSION: i32 = 2;',
} as const;

/** A flag for buildKernelVariant / buildAgentVariant: declare no memory maximum (the module may grow to 4 GiB). */
export const UNBOUNDED_MEMORY = "unbounded-memory";

/**
 * Compiles an entry source (one of kernelVariants) against wasm-core/assembly/kernel.ts; cached. `flags` are
 * extra asc options (e.g. ["--maximumMemory", "256"]).
 */
export async function buildKernelVariant(source: string, flags: readonly string[] = []): Promise<Uint8Array> {
  // The shipped builds' memory maximum unless the flags say otherwise (UNBOUNDED_MEMORY: none at all).
  const memory = flags.some((f) => f === "--maximumMemory" || f === UNBOUNDED_MEMORY)
    ? []
    : ["--maximumMemory", String(KERNEL_MAX_MEMORY_PAGES)];
  const options = [...RELEASE, ...memory, ...flags.filter((f) => f !== UNBOUNDED_MEMORY)];
  // The entry sits (virtually) beside the real fixtures so that "../kernel" resolves to the kernel source.
  return buildVariant(source, "assembly/fixtures/hot-swap-variant.ts", KERNEL_SOURCES, options);
}

/**
 * Compiles `source` as if it were the file `entry` under wasm-core (so its relative imports resolve to the real
 * sources), with asc `options`; cached under the OS temp dir by the hash of the source, the options and the
 * `dependencies` (wasm-core-relative files whose change must rebuild).
 */
export async function buildVariant(
  source: string,
  entry: string,
  dependencies: readonly string[],
  options: readonly string[],
): Promise<Uint8Array> {
  const hasher = createHash("sha256").update(entry).update(source).update(options.join(" "));
  for (const file of dependencies) hasher.update(await readFile(join(wasmCore, file), "utf8"));
  const hash = hasher.digest("hex").slice(0, 20);
  const cacheDir = join(tmpdir(), "chorus-kernel-variants");
  const cached = join(cacheDir, `${hash}.wasm`);
  try {
    return new Uint8Array(readFileSync(cached));
  } catch {
    // not built yet
  }
  let output: Uint8Array | undefined;
  const { error, stderr } = await asc.main([entry, "--baseDir", wasmCore, ...options, "--outFile", "variant.wasm"], {
    readFile: (filename, baseDir) =>
      filename === entry ? source : readFile(join(baseDir, filename), "utf8").catch(() => null),
    writeFile: (filename, contents) => {
      if (filename.endsWith("variant.wasm") && typeof contents !== "string") output = contents;
    },
  });
  if (error || !output) throw new Error(`asc failed: ${error?.message ?? "no output"}\n${stderr.toString()}`);
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(cached, output);
  return output;
}
