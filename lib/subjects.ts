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
  /**
   * LedgerEntry in the events stream (streams.events): `chorus.events.<type>.<campaign>`, `type` the AdEventType
   * name in lower case. A few subjects per campaign, not one per fact: nats-server keeps every subject of a stream
   * in memory (npm run bench:nats-subjects), and the stream is kept for ever. Repeats are refused by the fact's
   * Nats-Msg-Id inside the duplicate window, which covers the time a fact can be reported at all
   * (ledger/event-rules.ts).
   * Conversions, which come days later and are few, keep one subject per slot (`keys`: decision, creative, slot;
   * ids as base64url tokens), stored only if the subject is empty.
   */
  adEvent: (type: string, campaignId: string, keys: readonly string[] = []) =>
    [`chorus.events.${type}.${campaignId}`, ...keys.map(subjectToken)].join("."),
  adEventsAll: "chorus.events.>",
  adEventsOfType: (type: string) => `chorus.events.${type}.>`,
  /** Accepted LedgerEntry copies, republished by the events stream for agents (core NATS: at most once). */
  acceptedEvents: (type: string) => `chorus.accepted.${type}.>`,
  acceptedEventsAll: "chorus.accepted.>",
  /**
   * The receipts stream (streams.receipts) as a log: every receipt the gateways' group commit stores, a
   * DecisionReceipt alone on `receiptLogOne`, several as one ReceiptBatch on `receiptLogBatch`. Two subjects in
   * all: nats-server keeps every subject of a stream in memory, and receipts are kept for days. An event's token
   * names the stream sequence of the message holding its receipt (`s<seq>`), so any gateway gets it directly.
   */
  receiptLogOne: "chorus.receipts.log.one",
  receiptLogBatch: "chorus.receipts.log.batch",
  /**
   * A DecisionReceipt on its decision's own subject: receipts replayed from a gateway's spool (their ads' tokens
   * name no sequence) and receipts an erasure stores again; published only onto an empty subject.
   */
  receipt: (decisionId: string) => `chorus.receipts.${subjectToken(decisionId)}`,
  /**
   * ReceiptBatch under its batch id (before 2026-12-07; still read): `batchId` is already a subject token
   * (receipt-batch-id.ts). Two tokens after `receipts`, so it never collides with a single receipt's subject.
   */
  receiptBatch: (batchId: string) => `chorus.receipts.batch.${batchId}`,
  /** Whether a receipts-stream message is a ReceiptBatch (else a DecisionReceipt). */
  isReceiptBatchSubject: (subject: string) =>
    subject === "chorus.receipts.log.batch" || subject.startsWith("chorus.receipts.batch."),
  receiptsAll: "chorus.receipts.>",
  /** LeaseRequest -> LeaseGrant (request/reply, queue group "budget"). */
  budgetLease: "chorus.budget.lease",
  /**
   * LeaseGrant in the lease log (streams.leases), written by the Budget leader before it answers: a new leader
   * learns the leases its predecessor handed out. One subject per campaign.
   */
  leaseLog: (campaignId: string) => `chorus.leases.${subjectToken(campaignId)}`,
  leaseLogAll: "chorus.leases.>",
  /** LedgerQuery -> LedgerQueryResult (request/reply, queue group "ledger"). */
  ledgerQuery: "chorus.ledger.query",
  /**
   * AuctionOutcomeBatch, published by the decision engine: the AuctionOutcomes of the decisions it finished in one
   * short window, in decision order (one message per window, not per decision). Not sharded: every learner takes
   * every outcome. Agents declare it as an AuctionOutcome input and get the outcomes one by one.
   */
  auctionOutcomes: "chorus.auctions",
  /** DecisionRecord in the decision log (streams.decisions), one subject per decision: the reader's index. */
  decisionRecord: (decisionId: string) => `chorus.decisions.${subjectToken(decisionId)}`,
  decisionRecordsAll: "chorus.decisions.>",
  /** Events the ledger could not apply, kept with their bytes (streams.quarantine), per events stream sequence. */
  quarantinedEvent: (sequence: number) => `chorus.quarantine.events.${sequence}`,
  quarantineAll: "chorus.quarantine.>",
  /**
   * ForgetListeners -> ListenersForgotten (request, answered by every agent instance and gateway: no queue group).
   * Only the operator publishes it (`chorus users forget`).
   */
  usersForget: "chorus.users.forget",
  /**
   * ModuleRollbackRequest -> ModuleState (request/reply): a process whose rollback rules condemned a version it
   * runs asks the rollout steward (operator side, the only writer of module state) to roll it back.
   */
  moduleRollback: (module: string) => `chorus.modules.rollback.${module}`,
  moduleRollbackAll: "chorus.modules.rollback.>",
} as const;

/** JetStream KV buckets. */
export const buckets = {
  /** Advertisers, campaigns and creatives: keys `advertiser.<id>`, `campaign.<id>`, `creative.<id>`. */
  catalog: "chorus_catalog",
  /** Agent state snapshots, so a restarted agent recovers: key `<agent>.<key>`. */
  agentState: "chorus_agent_state",
  /** Module rollout state (ModuleState), key `state.<module>`: which version is active, shadow, canary. */
  moduleState: "chorus_module_state",
  /** Object store of published WASM modules: `<module>/<version>.wasm`, its signed ModuleManifest in the metadata. */
  moduleObjects: "chorus_modules",
  /** The ledger's snapshot (LedgerSnapshot, key `snapshot`): totals up to a stream sequence. */
  ledger: "chorus_ledger",
  /** Object store: the inventory part of logged decisions' kernel inputs, one object per inventory (telemetry/). */
  decisionInventories: "chorus_decision_inventories",
  /**
   * Leader election (lib/nats/leader-election.ts): keys `budget` and `ledger`, JSON {instance, pid} of the leader;
   * max age = CHORUS_LEADER_TTL_MS, so an instance that stops renewing loses its key.
   */
  leaders: "chorus_leaders",
  /**
   * API keys (gateway/auth/api-key.ts ApiKeyRecord as JSON), key = key id. Every gateway reads and watches it;
   * only the admin path writes it (the ApiKeyService behind an admin key, and the launcher's bootstrap).
   */
  apiKeys: "chorus_api_keys",
} as const;

/** JetStream streams. */
export const streams = {
  /** Accepted ad events (LedgerEntry), kept for rebuilds: subjects `chorus.events.>`. */
  events: "CHORUS_EVENTS",
  /** Decision receipts (DecisionReceipt): subjects `chorus.receipts.>`. */
  receipts: "CHORUS_RECEIPTS",
  /** The decision log (DecisionRecord, telemetry/decision-log.ts): subjects `chorus.decisions.>`. */
  decisions: "CHORUS_DECISIONS",
  /** Events the ledger skipped (undecodable or out of range), for inspection: subjects `chorus.quarantine.>`. */
  quarantine: "CHORUS_QUARANTINE",
  /** Spend leases granted by the Budget leader (LeaseGrant): subjects `chorus.leases.>`, kept an hour. */
  leases: "CHORUS_LEASES",
} as const;

/** Any id as one subject token: base64url has no dots, spaces or wildcards, and distinct ids stay distinct. */
export function subjectToken(id: string): string {
  return Buffer.from(id, "utf8").toString("base64url");
}
