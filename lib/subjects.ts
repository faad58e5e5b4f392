/**
 * Every NATS subject Chorus uses, in one place, with the protobuf message each carries (proto/chorus/v1).
 * Agents and the gateway build subjects only through these functions.
 */

export const AGENTS = ["intent", "relevance", "bidding", "creative", "budget", "timing", "orchestrator"] as const;
export type AgentName = (typeof AGENTS)[number];

/** Agents whose votes enter the kernel; the orchestrator owns the weights instead of voting. */
export const VOTING_AGENTS = [
  "intent",
  "relevance",
  "bidding",
  "creative",
  "budget",
  "timing",
] as const satisfies readonly AgentName[];
export type VotingAgentName = (typeof VOTING_AGENTS)[number];

/** Per-user state is sharded by a stable hash of the user id; an instance owns a set of shards. */
export const USER_SHARDS = 16;

export function userShard(userId: string): number {
  // FNV-1a: stable across processes and releases, unlike any runtime hash.
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    h ^= userId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % USER_SHARDS;
}

export const subjects = {
  /** DecideTask -> AgentVote (request/reply, queue group = agent name). */
  agentDecide: (agent: AgentName) => `chorus.agent.${agent}.decide`,
  /** Agent state snapshots for `cached` coordination; key is "global", a campaign id or a user shard. */
  agentSignal: (agent: AgentName, key: string) => `chorus.signal.${agent}.${key}`,
  agentSignalAll: (agent: AgentName) => `chorus.signal.${agent}.>`,
  /** PlaybackSignal, published by the gateway as clients report playback. */
  playback: (userId: string) => `chorus.playback.${userShard(userId)}`,
  playbackShard: (shard: number) => `chorus.playback.${shard}`,
  playbackAll: "chorus.playback.>",
} as const;

/** JetStream KV buckets. */
export const buckets = {
  /** Advertisers, campaigns and creatives: keys `advertiser.<id>`, `campaign.<id>`, `creative.<id>`. */
  catalog: "chorus_catalog",
  /** Agent state snapshots, so a restarted agent recovers: key `<agent>.<key>`. */
  agentState: "chorus_agent_state",
} as const;
