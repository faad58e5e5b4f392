import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CampaignSchema, CreativeSchema, EntityStatus } from "../../gen/chorus/v1/campaign_pb.ts";
import { AdFormat } from "../../gen/chorus/v1/common_pb.ts";
import { badMessageCounts } from "../nats/bad-messages.ts";
import { survivedErrors } from "../process/survive.ts";
import { type NatsFixture, startNats } from "../testing/nats-fixture.ts";
import { CatalogStore, openCatalogBucket } from "./catalog-store.ts";
import { CatalogView } from "./catalog-view.ts";

const campaign = (id: string) =>
  create(CampaignSchema, {
    id,
    advertiserId: "acme",
    name: id,
    budgetMicros: 1_000_000n,
    startTime: timestampFromMs(0),
    endTime: timestampFromMs(1e13),
    pacing: 1,
    goal: 1,
    bidStrategy: { kind: 1, maxCpmMicros: 5_000_000n },
    targeting: { genres: ["rock"] },
  });
const creative = (id: string, campaignId: string) =>
  create(CreativeSchema, { id, campaignId, format: AdFormat.AUDIO, durationMs: 15_000, iabCategory: "IAB2-3" });

describe("catalog - store and live view on a real JetStream KV", () => {
  let nats: NatsFixture;
  let store: CatalogStore;
  beforeAll(async () => {
    nats = await startNats();
    store = new CatalogStore(await openCatalogBucket(nats.js));
  });
  afterAll(() => nats.cleanup());

  it("creates once, then refuses a duplicate with ALREADY_EXISTS", async () => {
    const stored = await store.create("campaign", campaign("c1"));
    expect(stored.revision).toBeGreaterThan(0n);
    expect(stored.status).toBe(EntityStatus.ACTIVE);
    const err = await store.create("campaign", campaign("c1")).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.AlreadyExists);
  });

  it("updates only from the revision that is stored (optimistic concurrency)", async () => {
    const read = await store.get("campaign", "c1");
    const updated = await store.update("campaign", { ...read, name: "renamed" }, read.revision);
    expect(updated.revision).toBeGreaterThan(read.revision);
    const stale = await store
      .update("campaign", { ...read, name: "lost update" }, read.revision)
      .catch((e: unknown) => e);
    expect(ConnectError.from(stale).code).toBe(Code.Aborted);
    expect((await store.get("campaign", "c1")).name).toBe("renamed");
  });

  it("answers NOT_FOUND for a missing entity", async () => {
    const err = await store.get("creative", "nope").catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.NotFound);
  });

  it("keeps a live inventory in creative-id order with the same version in two views", async () => {
    await store.create("creative", creative("cr-b", "c1"));
    await store.create("creative", creative("cr-a", "c1"));
    const kv = await openCatalogBucket(nats.js);
    const a = await CatalogView.open(kv);
    const b = await CatalogView.open(await openCatalogBucket(nats.js));
    expect(a.inventory.candidates.map((c) => c.creative.id)).toEqual(["cr-a", "cr-b"]);
    expect(a.inventory.version).toBe(b.inventory.version);
    expect(a.inventory.arrays.embeddings.length).toBe(2 * a.inventory.dim);

    await store.archive("creative", "cr-a", 0n);
    const after = await a.waitFor((inv) => inv.size === 1);
    expect(after.candidates[0]!.creative.id).toBe("cr-b");
    expect(after.candidates[0]!.index).toBe(0);
    await b.waitFor((inv) => inv.version === after.version);
    a.close();
    b.close();
  });

  it("survives a damaged entry and a listener that throws: logged, counted, and the view keeps following", async () => {
    const kv = await openCatalogBucket(nats.js);
    const view = await CatalogView.open(kv);
    const before = survivedErrors();
    const count = (where: string) => before.get(where) ?? 0;
    const damaged = badMessageCounts().get("catalog-view") ?? 0;
    const listenerErrors = count("catalog listener");
    view.onChange(() => {
      throw new Error("listener bug");
    });
    await kv.put("creative.damaged", new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    await store.create("creative", creative("cr-c", "c1"));
    const after = await view.waitFor((inv) => inv.byCreativeId("cr-c") !== undefined);
    expect(after.byCreativeId("damaged")).toBeUndefined();
    // The damaged value is skipped and counted as a bad message; nothing had to be survived.
    expect(badMessageCounts().get("catalog-view")).toBe(damaged + 1);
    expect(survivedErrors().get("catalog listener")).toBeGreaterThan(listenerErrors);
    view.close();
  });
});
