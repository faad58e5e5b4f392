import { create } from "@bufbuild/protobuf";
import { type DegradedAgent, DegradedAgentSchema } from "../../gen/chorus/v1/decision_pb.ts";
import type { Degradation } from "../../voting/contract/degradation.ts";

/**
 * The response's degraded list, the one place it is built: one entry per agent in the order the stages reported
 * (the first report of an agent wins: a gatherer's fallback already says what a later scorer failure would), each
 * with the weight the orchestrator gave it.
 */
export function degradedList(reports: readonly Degradation[], weightOf: (agent: string) => number): DegradedAgent[] {
  const seen = new Set<string>();
  const list: DegradedAgent[] = [];
  for (const r of reports) {
    if (seen.has(r.agent)) continue;
    seen.add(r.agent);
    list.push(create(DegradedAgentSchema, { ...r, weight: weightOf(r.agent) }));
  }
  return list;
}
