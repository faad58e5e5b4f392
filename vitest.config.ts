import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.spec.ts"],
    exclude: ["node_modules/**", "dist/**"],
    // Tests start real nats-server processes and worker pools; two cores cannot run many files at once.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Inherited by every process a test starts. The gateway sheds decisions while its event loop is 500 ms behind
    // (GATEWAY_MAX_LOOP_LAG_MS); end-to-end specs on a saturated shared machine stall that long from scheduling
    // alone and expect no refusals. The shedding's own specs set their bound explicitly.
    env: { GATEWAY_MAX_LOOP_LAG_MS: "0" },
  },
});
