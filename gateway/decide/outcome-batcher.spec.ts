import { create } from "@bufbuild/protobuf";
import type { Msg } from "@nats-io/nats-core";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuctionOutcomeSchema } from "../../gen/chorus/v1/agent_pb.ts";
import { decodeAuctionOutcomeBatch } from "../../lib/codecs/auction-outcome.ts";
import type { NatsConnection } from "../../lib/nats/connect.ts";
import { pieceLimit } from "../../lib/nats/message-pieces.ts";
import { subjects } from "../../lib/subjects.ts";
import { type NatsFixture, startNats } from "../../lib/testing/nats-fixture.ts";
import { OutcomeBatcher } from "./outcome-batcher.ts";

const outcome = (decisionId: string, entries = 0) =>
  create(AuctionOutcomeSchema, {
    decisionId,
    entries: Array.from({ length: entries }, (_, i) => ({
      creativeId: `creative-${"x".repeat(90)}-${i}`,
      won: i === 0,
    })),
  });

describe("outcome batcher", () => {
  let nats: NatsFixture;
  let learner: NatsConnection;
  const seen: Msg[] = [];
  beforeAll(async () => {
    // Published as the gateway and read as an agent host, each held to its own bus permissions.
    nats = await startNats({ permissions: "gateway" });
    learner = await nats.connect("agents", "agents");
    learner.subscribe(subjects.auctionOutcomes, { callback: (err, msg) => void (err || seen.push(msg)) });
    await learner.flush();
  });
  afterAll(() => nats.cleanup());
  const ids = (msg: Msg) => decodeAuctionOutcomeBatch(msg.data).outcomes.map((o) => o.decisionId);

  it("outcome batcher - the outcomes of one window go out as one message, in order; the next window is another", async () => {
    seen.length = 0;
    const batcher = new OutcomeBatcher(nats.nc, pino({ level: "silent" }));
    for (const id of ["d1", "d2", "d3"]) batcher.add(outcome(id, 3));
    expect(batcher.pending).toBe(3);
    await expect.poll(() => seen.length).toBe(1);
    expect(batcher.pending).toBe(0);
    batcher.add(outcome("d4"));
    await expect.poll(() => seen.length).toBe(2);
    expect(seen.map(ids)).toEqual([["d1", "d2", "d3"], ["d4"]]);
    expect(seen.every((m) => m.subject === subjects.auctionOutcomes)).toBe(true);
  });

  it("outcome batcher - flush publishes what waits at once, and nothing more when the window ends", async () => {
    seen.length = 0;
    const batcher = new OutcomeBatcher(nats.nc, pino({ level: "silent" }), 60_000);
    batcher.add(outcome("d5"));
    batcher.add(outcome("d6"));
    batcher.flush();
    batcher.flush();
    await nats.nc.flush();
    await expect.poll(() => seen.length).toBe(1);
    expect(ids(seen[0]!)).toEqual(["d5", "d6"]);
  });

  it("outcome batcher - a window's outcomes past the max payload go out in several messages, none too large", async () => {
    seen.length = 0;
    const batcher = new OutcomeBatcher(nats.nc, pino({ level: "silent" }));
    // ~100 KB each: twelve of them do not fit in one message of the server's 1 MiB.
    const many = Array.from({ length: 12 }, (_, i) => `big-${i}`);
    for (const id of many) batcher.add(outcome(id, 1_000));
    await expect.poll(() => seen.flatMap(ids).length).toBe(12);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.flatMap(ids)).toEqual(many);
    for (const m of seen) expect(m.data.length).toBeLessThanOrEqual(pieceLimit(nats.nc.info?.max_payload));
  });
});
