import type { DegradedReason, Fallback } from "../../gen/chorus/v1/decision_pb.ts";

/**
 * One stage's report that an agent (or the kernel) did not decide as itself: the vote gatherer (down, late, stale),
 * scoring (a module version failed), the kernel router (a fallback decided). Stages only report; the response's
 * degraded list is built from the reports in one place (gateway/decide/degraded-list.ts).
 */
export interface Degradation {
  agent: string;
  reason: DegradedReason;
  fallback: Fallback;
}
