/**
 * The set-up every rollout spec shares: one hot-swap bench (kernel 1.0.0 published and active) started before the
 * file's tests and cleaned up after them. The returned object forwards to that bench once `beforeAll` ran.
 * Kept apart from hot-swap-fixture.ts, which benchmarks import outside vitest.
 */
import { afterAll, beforeAll } from "vitest";
import { type HotSwapBench, startHotSwapBenchWithActiveKernel } from "./hot-swap-fixture.ts";

export function hotSwapBenchPerFile(): HotSwapBench {
  let bench: HotSwapBench | undefined;
  beforeAll(async () => {
    bench = await startHotSwapBenchWithActiveKernel();
  });
  afterAll(() => bench?.cleanup());
  return new Proxy({} as HotSwapBench, {
    get(_, key) {
      if (!bench) throw new Error("the hot-swap bench starts in beforeAll: use it inside a test");
      return Reflect.get(bench, key);
    },
  });
}
