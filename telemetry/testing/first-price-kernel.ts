/**
 * A second kernel "version" for replay tests: the real kernel source compiled with the auction forced to first
 * price, so the same recorded inputs give the same pod at different prices.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";

const kernelSource = fileURLToPath(new URL("../../wasm-core/assembly/kernel", import.meta.url));

export async function buildFirstPriceKernel(): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), "chorus-first-price-"));
  try {
    const kernel = relative(dir, kernelSource);
    await writeFile(
      join(dir, "first-price.ts"),
      `import { decide as kernelDecide } from "${kernel}";
export { ABI_VERSION, KERNEL_SIMD, MAX_ADS, configure, regionOffset } from "${kernel}";
export function decide(n: i32, d: i32, a: i32, rw: f32, reserve: f32, _auction: i32, k: i32, ms: i32): i32 {
  return kernelDecide(n, d, a, rw, reserve, 1, k, ms);
}
`,
    );
    const outFile = join(dir, "first-price.wasm");
    const { error, stderr } = await asc.main([
      join(dir, "first-price.ts"),
      "-O3",
      "--noAssert",
      "--runtime",
      "stub",
      "--enable",
      "simd",
      "--outFile",
      outFile,
    ]);
    if (error) throw new Error(`asc failed: ${error.message}\n${stderr.toString()}`);
    return new Uint8Array(await readFile(outFile));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
