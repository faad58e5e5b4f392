import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { errors, type NatsConnection } from "@nats-io/nats-core";
import { type AgentVote, AgentVoteSchema, DecideTaskSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { DegradedReason, Fallback } from "../../gen/chorus/v1/decision_pb.ts";
import { decodeAgentVote } from "../../lib/codecs/agent-vote.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { type AgentName, subjects } from "../../lib/subjects.ts";
import { AGENT_ATTRIBUTE, tracedRequest } from "../../telemetry/tracing.ts";
import type { VoteContext } from "../../voting/contract/agent-module.ts";
import type { Degradation } from "../../voting/contract/degradation.ts";
import type { SignalMirror } from "../../voting/mirror/signal-mirror.ts";

export type Coordination = "cached" | "parallel" | "sequential";

export interface GatheredVotes {
  votes: Map<AgentName, AgentVote>;
  /** The agents that did not vote as themselves (the response's list is built from these: degraded-list.ts). */
  degraded: Degradation[];
}

export interface GatherOptions {
  nc: NatsConnection;
  mirrors: readonly SignalMirror[];
  coordination: Coordination;
  /** Absolute time by which every vote must be in. */
  deadlineAtMs: number;
  /** `cached`: a mirror silent for this long counts as stale. */
  staleAfterMs: number;
  logger: Logger;
}

/**
 * One vote per agent, by the coordination mode. Whatever an agent does (down, late, failing, stale), a vote comes
 * back: the agent's pure vote on the gateway's mirror of its last signals, or on a fresh state (neutral) when
 * nothing was ever heard; the agent is then listed as degraded.
 */
export async function gatherVotes(
  ctx: VoteContext,
  inventoryVersion: bigint,
  o: GatherOptions,
): Promise<GatheredVotes> {
  const votes = new Map<AgentName, AgentVote>();
  const degraded: Degradation[] = [];
  const fallback = (mirror: SignalMirror, reason: DegradedReason, priorVotes = ctx.priorVotes) => {
    const known = mirror.knownKeys.size > 0;
    degraded.push({
      agent: mirror.module.name,
      reason,
      fallback: known ? Fallback.LAST_SIGNAL : Fallback.NEUTRAL_VOTE,
    });
    return localVote(mirror, { ...ctx, priorVotes }, known ? mirror.state : mirror.module.createState());
  };

  if (o.coordination === "cached") {
    const now = Date.now();
    for (const mirror of o.mirrors) {
      const fresh = mirror.lastHeardMs > 0 && now - mirror.lastHeardMs <= o.staleAfterMs;
      votes.set(
        mirror.module.name,
        fresh
          ? localVote(mirror, ctx, mirror.state)
          : fallback(mirror, mirror.lastHeardMs ? DegradedReason.STALE_SIGNAL : DegradedReason.UNAVAILABLE),
      );
    }
    return { votes, degraded };
  }

  // One encoding of the task for every agent; sequential appends each prior vote as it came (see taskWithPriors).
  const task = toBinary(
    DecideTaskSchema,
    create(DecideTaskSchema, {
      runId: ctx.runId,
      request: ctx.request,
      inventoryVersion,
      deadline: timestampFromMs(o.deadlineAtMs),
      // A retrieval slice: the agent votes on the same candidates (Inventory.slice of its catalog).
      candidates: ctx.inventory.catalogIndex ? Array.from(ctx.inventory.catalogIndex) : [],
    }),
  );
  const ask = (mirror: SignalMirror, priorVotes: AgentVote[], payload: Uint8Array) =>
    requestVote(o.nc, mirror.module.name, ctx.runId, payload, o.deadlineAtMs).catch((err: unknown) => {
      const reason = degradedReason(err);
      if (reason !== DegradedReason.TIMEOUT && reason !== DegradedReason.UNAVAILABLE)
        o.logger.warn({ agent: mirror.module.name, err }, "agent vote failed");
      const vote = fallback(mirror, reason, priorVotes);
      return { vote, bytes: undefined };
    });

  if (o.coordination === "parallel") {
    const answers = await Promise.all(o.mirrors.map((m) => ask(m, [], task)));
    o.mirrors.forEach((m, i) => {
      votes.set(m.module.name, answers[i]!.vote);
    });
  } else {
    const prior: AgentVote[] = [];
    const priorBytes: Uint8Array[] = [];
    for (const mirror of o.mirrors) {
      const { vote, bytes } = await ask(mirror, [...prior], taskWithPriors(task, priorBytes));
      votes.set(mirror.module.name, vote);
      prior.push(vote);
      // A copy: the reply's buffer belongs to the NATS client.
      priorBytes.push(bytes ? bytes.slice() : toBinary(AgentVoteSchema, vote));
    }
  }
  return { votes, degraded };
}

/**
 * The task with prior_votes, without encoding anything again: a decoder takes fields in any order and appends
 * repeated ones, so the encoded task followed by one field-5 record per vote (the bytes the agent answered)
 * decodes as the task with those prior votes.
 */
function taskWithPriors(task: Uint8Array, priorBytes: readonly Uint8Array[]): Uint8Array {
  if (priorBytes.length === 0) return task;
  const w = new BinaryWriter().raw(task);
  for (const bytes of priorBytes) w.tag(5, WireType.LengthDelimited).bytes(bytes);
  return w.finish();
}

function localVote(mirror: SignalMirror, ctx: VoteContext, state: unknown): AgentVote {
  const vote = mirror.module.vote(ctx, state);
  vote.agent = mirror.module.name;
  vote.moduleVersion = mirror.module.version;
  return vote;
}

class AgentServiceError extends Error {
  override readonly name = "AgentServiceError";
}

async function requestVote(
  nc: NatsConnection,
  agent: AgentName,
  runId: string,
  task: Uint8Array,
  deadlineAtMs: number,
): Promise<{ vote: AgentVote; bytes: Uint8Array }> {
  const timeout = Math.floor(deadlineAtMs - Date.now());
  if (timeout <= 0) throw new errors.TimeoutError();
  // In a PRODUCER span whose context (and the run id) rides in the headers: the agent's span becomes its child.
  const reply = await tracedRequest(nc, subjects.agentDecide(agent), task, {
    timeout,
    runId,
    attributes: { [AGENT_ATTRIBUTE]: agent },
  });
  const code = reply.headers?.get("Nats-Service-Error-Code");
  if (code) throw new AgentServiceError(`${agent}: ${code} ${reply.headers?.get("Nats-Service-Error") ?? ""}`);
  const vote = decodeAgentVote(reply.data);
  vote.agent = agent;
  return { vote, bytes: reply.data };
}

/** Maps a failed request to why the agent is degraded (nats.js wraps some errors in RequestError with a cause). */
function degradedReason(err: unknown): DegradedReason {
  const e = err instanceof errors.RequestError && err.cause ? err.cause : err;
  if (e instanceof errors.TimeoutError) return DegradedReason.TIMEOUT;
  if (e instanceof errors.NoRespondersError) return DegradedReason.UNAVAILABLE;
  if (e instanceof errors.ClosedConnectionError || e instanceof errors.DrainingConnectionError)
    return DegradedReason.UNAVAILABLE;
  return DegradedReason.ERROR;
}
