/** A ModuleRouter's stats as a ModuleReport (module.proto), written periodically for `chorus modules report`. */

import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import {
  type ModuleReport,
  ModuleReportSchema,
  ModuleRoleReportSchema,
  ShadowDiffReportSchema,
} from "../gen/chorus/v1/module_pb.ts";
import type { Logger } from "../lib/log/logger.ts";
import { guardedInterval } from "../lib/process/survive.ts";
import type { ModuleRegistry } from "./module-registry.ts";
import type { ModuleRouterStats, RoleStats } from "./module-router.ts";

function role(stats: RoleStats) {
  return create(ModuleRoleReportSchema, {
    version: stats.version,
    calls: BigInt(stats.calls),
    failures: BigInt(stats.failures),
    errorRate: stats.errorRate,
  });
}

export function toModuleReport(process: string, module: string, stats: ModuleRouterStats): ModuleReport {
  const shadow = stats.shadow;
  return create(ModuleReportSchema, {
    process,
    module,
    at: timestampNow(),
    active: role(stats.active),
    canary: stats.canary && role(stats.canary),
    canaryPercent: stats.canary?.percent ?? 0,
    shadow:
      shadow &&
      create(ShadowDiffReportSchema, {
        version: shadow.version,
        compared: BigInt(shadow.compared),
        differentPods: BigInt(shadow.differentPods),
        podDiffRate: shadow.podDiffRate,
        meanAbsPriceDeltaMicros: shadow.meanAbsPriceDeltaMicros,
        maxAbsPriceDeltaMicros: shadow.maxAbsPriceDeltaMicros,
        failures: BigInt(shadow.failures),
        skipped: BigInt(shadow.skipped),
      }),
    rolledBack: [...stats.rolledBack],
  });
}

/** Writes the report every `intervalMs` until the returned function is called. Failures are logged, not thrown. */
export function reportPeriodically(
  registry: ModuleRegistry,
  read: () => ModuleReport,
  intervalMs: number,
  logger: Logger,
): () => void {
  const timer = guardedInterval(
    "module report",
    intervalMs,
    () => registry.putReport(read()).catch((err: unknown) => logger.warn({ err }, "module report not written")),
    logger,
  );
  timer.unref();
  return () => clearInterval(timer);
}
