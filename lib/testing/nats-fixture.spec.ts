/**
 * The unit-test fixture with permissions on runs the configuration npm start generates: a test connected as a
 * process kind is held to that kind's rights, and a connection without credentials is refused.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buckets, streams, subjects } from "../subjects.ts";
import { type NatsFixture, startNats } from "./nats-fixture.ts";

describe("test fixture - startNats with the generated permissions", () => {
  let nats: NatsFixture;
  beforeAll(async () => {
    nats = await startNats({ permissions: "agents" });
  });
  afterAll(() => nats.cleanup());

  it("holds each connection to its identity's rights and refuses a connection without credentials", async () => {
    expect(nats.auth?.configFile).toBeDefined();
    await expect(connect({ servers: nats.server.url, reconnect: false })).rejects.toThrow(/authorization/i);
    // Only the operator creates streams (a plain receipts stream here: this layer does not know the ledger's
    // settings); the ledger, which reads it, may not.
    const ledger = await jetstreamManager(await nats.connect("ledger", "ledger"));
    await expect(ledger.streams.add({ name: streams.receipts, subjects: [subjects.receiptsAll] })).rejects.toThrow(
      /permission|timeout/i,
    );
    const operator = await jetstreamManager(await nats.connect("operator", "operator"));
    await operator.streams.add({ name: streams.receipts, subjects: [subjects.receiptsAll] });
    const gateway = await nats.connect("gateway", "gateway");
    // The gateway stores receipts; the fixture's own identity (an agent host) may not, nor write module state.
    await jetstream(gateway).publish(subjects.receipt("d-1"), new Uint8Array([1]));
    await expect(
      jetstream(nats.nc).publish(subjects.receipt("d-2"), new Uint8Array([1]), { timeout: 2_000 }),
    ).rejects.toThrow(/permission|timeout/i);
    await expect(
      jetstream(nats.nc).publish(`$KV.${buckets.moduleState}.state.kernel`, new Uint8Array([1]), { timeout: 2_000 }),
    ).rejects.toThrow(/permission|timeout|no responders/i);
  });
});
