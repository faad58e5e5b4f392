/** A ModuleRouter's stats as a ModuleReport (module.proto), written periodically for `chorus modules report`. */

import { create, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import {
  type ModuleReport,
  ModuleReportSchema,
  ModuleRoleReportSchema,
  ShadowDiffReportSchema,
} from "../gen/chorus/v1/module_pb.ts";
import type { Logger } from "../lib/log/logger.ts";
import { sharedInterval } from "../lib/process/shared-interval.ts";
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

export function toModuleReport(
  process: string,
  module: string,
  stats: ModuleRouterStats,
  refused: ReadonlyMap<string, { readonly reason: string }> = new Map(),
): ModuleReport {
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
    refused: [...refused].map(([version, rejection]) => `${version}: ${rejection.reason}`),
  });
}

/** An unchanged report is still rewritten this often, so that its `at` says the process is alive. */
export const REPORT_REFRESH_MS = 60_000;

/**
 * Checks the report every `intervalMs` until the returned function is called and writes it when its figures
 * changed (at most every REPORT_REFRESH_MS otherwise): a dozen idle processes rewriting unchanged reports kept
 * JetStream and every process busy for nothing. Failures are logged, not thrown.
 */
export function reportPeriodically(
  registry: ModuleRegistry,
  read: () => ModuleReport,
  intervalMs: number,
  logger: Logger,
  clock: () => number = Date.now,
): () => void {
  let written: Uint8Array | undefined;
  let writtenAt = 0;
  // One timer for every module's report of this process (a gateway reports the kernel and six scoring modules).
  const timer = sharedInterval(
    "module report",
    intervalMs,
    () => {
      const report = read();
      const figures = toBinary(ModuleReportSchema, { ...report, at: undefined });
      const now = clock();
      if (written && now - writtenAt < REPORT_REFRESH_MS && sameBytes(written, figures)) return;
      written = figures;
      writtenAt = now;
      registry.putReport(report).catch((err: unknown) => {
        written = undefined; // retried at the next interval
        logger.warn({ err }, "module report not written");
      });
    },
    logger,
  );
  return () => timer.stop();
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
