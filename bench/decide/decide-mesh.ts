import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { jetstream } from "@nats-io/jetstream";
import { runAgent } from "../../agents/runtime/run-agent.ts";
import {
  AdEventType,
  type DecideRequest,
  DecideRequestSchema,
  PlaybackSignalSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import { LedgerEntrySchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { CatalogStore, openCatalogBucket } from "../../lib/catalog/catalog-store.ts";
import { CatalogView } from "../../lib/catalog/catalog-view.ts";
import { demoCatalog, loadDemoCatalog } from "../../lib/demo/demo-catalog.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { connectNats, type NatsConnection } from "../../lib/nats/connect.ts";
import { NatsServerProcess } from "../../lib/nats/nats-server-process.ts";
import { type RunningChild, startChild, stopChild } from "../../lib/process/launcher.ts";
import { subjects } from "../../lib/subjects.ts";
import type { AnyAgentModule } from "../../voting/contract/agent-module.ts";
import { loadAgents } from "../../voting/registry/agent-loaders.ts";
import { decideRequests } from "../mesh/decide-requests.ts";

export const BENCH_AGENTS = ["intent", "relevance", "bidding", "creative", "budget", "timing", "orchestrator"] as const;

/**
 * Everything a decide needs, for real, in this process: a private nats-server, the demo catalog (or a larger one
 * from the same generator) in the catalog KV bucket and a live CatalogView of it, and every agent running on its
 * own NATS connection (so parallel and sequential coordination have someone to ask).
 */
export interface DecideMesh {
  server: NatsServerProcess;
  /** The gateway's connection. */
  nc: NatsConnection;
  view: CatalogView;
  modules: AnyAgentModule[];
  /** The agent host process when the agents run outside this one (`child`). */
  agentHost: RunningChild | undefined;
  requests: DecideRequest[];
  close(): Promise<void>;
}

/** Where the agents run: in this process on their own connection, or in an agent host process (agents/host.ts). */
export type AgentPlacement = "in-process" | "child";

export async function startDecideMesh(
  advertisers: number,
  placement: AgentPlacement,
  logger: Logger,
  { creativesPerCampaign = 4 } = {},
): Promise<DecideMesh> {
  const server = await new NatsServerProcess().start();
  const nc = await connectNats({ servers: server.url, name: "bench-gateway" });
  const agentNc = await connectNats({ servers: server.url, name: "bench-agents" });
  const kv = await openCatalogBucket(jetstream(nc));
  await loadDemoCatalog(new CatalogStore(kv), demoCatalog({ advertisers, creativesPerCampaign, seed: 7 }), {
    concurrency: 1024,
  });
  const view = await CatalogView.open(kv);
  const modules = await loadAgents(BENCH_AGENTS);
  const agents =
    placement === "in-process"
      ? await Promise.all(modules.map((m) => runAgent(m, { nc: agentNc, catalog: view, logger })))
      : [];
  const agentHost =
    placement === "child"
      ? await startChild(
          {
            name: "bench-agents",
            entry: "agents/host",
            // The Budget agent runs in its own process (it also grants leases): budgetHost below.
            env: {
              AGENTS: BENCH_AGENTS.filter((a) => a !== "budget").join(","),
              NATS_URL: server.url,
              LOG_LEVEL: "warn",
            },
          },
          { silent: true },
        )
      : undefined;
  const budgetHost =
    placement === "child"
      ? await startChild(
          {
            name: "bench-budget",
            entry: "agents/budget/budget-main",
            env: { NATS_URL: server.url, LOG_LEVEL: "warn" },
          },
          { silent: true },
        )
      : undefined;
  // Every request may break now: the whole pipeline (kernel included) runs on each one.
  const requests = decideRequests(512, 42).bodies.map((b, i) => {
    const r = fromBinary(DecideRequestSchema, Buffer.from(b, "base64"));
    // The encoded pool leaves the user to the load client (a placeholder): one user per request here.
    r.user!.userId = `bench-user-${i}`;
    r.placement!.forceNow = true;
    r.explain = false;
    return r;
  });
  return {
    server,
    nc,
    view,
    modules,
    agentHost,
    requests,
    async close() {
      await Promise.all(agents.map((a) => a.stop()));
      if (agentHost) await stopChild(agentHost.process);
      if (budgetHost) await stopChild(budgetHost.process);
      view.close();
      await Promise.allSettled([nc.close(), agentNc.close()]);
      await server.stop();
    },
  };
}

/** Listening history for every request's user and session (Intent profiles, Timing sessions). */
export async function feedPlayback(nc: NatsConnection, requests: readonly DecideRequest[]): Promise<void> {
  const now = Date.now();
  for (const [i, r] of requests.entries()) {
    const userId = r.user!.userId;
    const sessionId = r.context!.sessionId;
    const send = (at: number, kind: MessageInitShape<typeof PlaybackSignalSchema>["kind"]) =>
      nc.publish(
        subjects.playback(userId),
        toBinary(
          PlaybackSignalSchema,
          create(PlaybackSignalSchema, { userId, sessionId, at: timestampFromMs(at), kind }),
        ),
      );
    // A few tracks of another genre and of the request's, which is playing now; a skip now and then.
    for (let t = 0; t < 4; t++) {
      const genre = t % 2 === 1 ? r.context!.genre : ["rock", "jazz", "indie"][i % 3]!;
      const { moodTags, contentKind } = r.context!;
      send(now - (5 - t) * 200_000, {
        case: "contentStart",
        value: { genre, moodTags, durationMs: 200_000, contentKind },
      });
    }
    if (i % 5 === 0) send(now - 1_000, { case: "skip", value: { positionMs: 30_000 } });
  }
  await nc.flush();
}

/** Accepted ledger events for a decision's ads: impressions (frequency caps, learning) and some responses. */
export function publishEvents(
  nc: NatsConnection,
  decisionId: string,
  userId: string,
  ads: readonly { creativeId: string; campaignId: string; priceMicros: bigint }[],
  responseShare: number,
  random: () => number,
): void {
  const at = timestampFromMs(Date.now());
  for (const ad of ads) {
    const entry = (type: AdEventType) =>
      toBinary(
        LedgerEntrySchema,
        create(LedgerEntrySchema, {
          event: {
            eventId: `${decisionId}/${ad.creativeId}/${type}`,
            decisionId,
            creativeId: ad.creativeId,
            type,
            occurredAt: at,
          },
          campaignId: ad.campaignId,
          userId,
          chargeMicros: type === AdEventType.IMPRESSION ? ad.priceMicros : 0n,
        }),
      );
    nc.publish(`chorus.accepted.impression.${decisionId}`, entry(AdEventType.IMPRESSION));
    if (random() < responseShare) nc.publish(`chorus.accepted.complete.${decisionId}`, entry(AdEventType.COMPLETE));
    if (random() < responseShare / 10) nc.publish(`chorus.accepted.click.${decisionId}`, entry(AdEventType.CLICK));
  }
}
