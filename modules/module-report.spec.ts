import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { type ModuleReport, ModuleReportSchema } from "../gen/chorus/v1/module_pb.ts";
import { createLogger } from "../lib/log/logger.ts";
import type { ModuleRegistry } from "./module-registry.ts";
import { REPORT_REFRESH_MS, reportPeriodically } from "./module-report.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("module report", () => {
  it("module report - written when its figures change, and an unchanged one once a refresh period", async () => {
    const written: ModuleReport[] = [];
    const registry = { putReport: async (r: ModuleReport) => void written.push(r) } as unknown as ModuleRegistry;
    let calls = 0n;
    let now = 0;
    const stop = reportPeriodically(
      registry,
      // A fresh `at` every time, as toModuleReport stamps it: only the figures decide.
      () => create(ModuleReportSchema, { process: "p", module: "kernel", at: timestampNow(), active: { calls } }),
      5,
      createLogger("test", "silent"),
      () => now,
    );
    await sleep(60);
    expect(written).toHaveLength(1);
    calls = 3n;
    await sleep(30);
    expect(written.map((r) => r.active?.calls)).toEqual([0n, 3n]);
    now += REPORT_REFRESH_MS;
    await sleep(30);
    expect(written).toHaveLength(3);
    stop();
  });
});
