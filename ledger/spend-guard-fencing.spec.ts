import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LeaseGrantSchema, LeaseRequestSchema } from "../gen/chorus/v1/ledger_pb.ts";
import { createLogger } from "../lib/log/logger.ts";
import { subjects } from "../lib/subjects.ts";
import { type NatsFixture, startNats } from "../lib/testing/nats-fixture.ts";
import { createSpendGuard } from "./spend-guard.ts";

const logger = createLogger("spend-guard-fencing-test", "silent");

describe("spend guard fencing", () => {
  let nats: NatsFixture;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(() => nats.cleanup());

  it("epoch - a grant from an older Budget leader than one already seen is refused; newer and equal epochs are taken", async () => {
    // Plays the Budget side: answers with the epochs in turn (a deposed leader answering late is the 3).
    const epochs = [5n, 3n, 5n, 7n];
    let n = 0;
    const responder = (await nats.connect("budget")).subscribe(subjects.budgetLease, {
      callback: (_err, msg) => {
        const request = fromBinary(LeaseRequestSchema, msg.data);
        const epoch = epochs[Math.min(n, epochs.length - 1)]!;
        n++;
        msg.respond(
          toBinary(
            LeaseGrantSchema,
            create(LeaseGrantSchema, {
              leaseId: `l-${n}`,
              campaignId: request.campaignId,
              amountMicros: 100n,
              ttlMs: 60_000,
              epoch,
            }),
          ),
        );
      },
    });
    const guard = await createSpendGuard({
      nc: await nats.connect("gw"),
      gatewayId: "gw",
      logger,
      retryAfterMs: 60_000,
    });
    const ask = async (campaignId: string) => {
      const before = n;
      guard.headroom(campaignId);
      while (n === before) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 20));
      return guard.headroom(campaignId);
    };
    expect(await ask("a")).toBe(100n); // epoch 5
    expect(await ask("b")).toBe(0n); // epoch 3: refused
    expect(guard.staleGrantsRefused).toBe(1);
    expect(await ask("c")).toBe(100n); // epoch 5 again
    expect(await ask("d")).toBe(100n); // epoch 7
    responder.unsubscribe();
  });
});
