import type { AgentVote } from "../../gen/chorus/v1/agent_pb.ts";
import type { AgentName } from "../../lib/subjects.ts";

/**
 * One decision's votes by agent. Keyed by the typed agent name, so `votes.get("timnig")` is a compile error rather
 * than a silently missing vote.
 */
export type Votes = ReadonlyMap<AgentName, AgentVote>;
