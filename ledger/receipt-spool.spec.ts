import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecisionReceiptSchema, ReceiptItemSchema } from "../gen/chorus/v1/ledger_pb.ts";
import { createLogger } from "../lib/log/logger.ts";
import { streams } from "../lib/subjects.ts";
import { type NatsFixture, startNats } from "../lib/testing/nats-fixture.ts";
import { ensureLedgerStreams } from "./ledger-streams.ts";
import { parseSpoolLine, ReceiptSpool, spoolLine } from "./receipt-spool.ts";
import { ReceiptStore } from "./receipt-store.ts";
import { createSpendGuard } from "./spend-guard.ts";

const logger = createLogger("receipt-spool-test", "silent");

const receipt = (decisionId: string, price = 100n) =>
  create(DecisionReceiptSchema, {
    decisionId,
    decidedAt: timestampFromMs(Date.now()),
    gatewayId: "gw-1",
    items: [create(ReceiptItemSchema, { campaignId: "c", creativeId: "c-cr", priceMicros: price, leaseId: "l-1" })],
  });

describe("receipt spool", () => {
  let nats: NatsFixture;
  beforeAll(async () => {
    nats = await startNats();
    await ensureLedgerStreams(await jetstreamManager(nats.nc));
  });
  afterAll(() => nats.cleanup());

  it("spool line - a receipt survives the round trip; a flipped character, a cut line or another format is refused", () => {
    const line = spoolLine(receipt("d-1")).trimEnd();
    expect(parseSpoolLine(line)?.decisionId).toBe("d-1");
    const flipped = `${line[0] === "A" ? "B" : "A"}${line.slice(1)}`;
    expect(parseSpoolLine(flipped)).toBeUndefined();
    expect(parseSpoolLine(line.slice(0, -3))).toBeUndefined();
    expect(parseSpoolLine(line.replace(" ", "  "))).toBeUndefined();
    expect(parseSpoolLine("")).toBeUndefined();
    expect(parseSpoolLine("not base64 !! 00000000")).toBeUndefined();
  });

  it("restart under the same id - the predecessor's spool is replayed at start, a corrupt line is skipped, counted and kept aside, the lines after it are stored", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chorus-spool-"));
    // The predecessor spooled three receipts while NATS was away, then died; one line was damaged on disk, and its
    // last write was cut short (no newline: its commit never returned, so nothing was sold on it).
    const predecessor = new ReceiptSpool(join(dir, "gw-1"), "gw-1");
    await predecessor.append(receipt("d-a"));
    appendFileSync(join(dir, "gw-1", "gw-1.receipts"), "Zm9vYmFy 12345678\n");
    await predecessor.append(receipt("d-b"));
    await predecessor.append(receipt("d-c"));
    appendFileSync(join(dir, "gw-1", "gw-1.receipts"), spoolLine(receipt("d-torn")).slice(0, 20));

    const guard = await createSpendGuard({
      nc: await nats.connect("gw-1"),
      gatewayId: "gw-1",
      logger,
      spoolDir: join(dir, "gw-1"),
    });
    expect(guard.corruptSpoolLines).toBe(1);
    const store = await ReceiptStore.open(await nats.connect("reader"), { cacheSize: 0 });
    for (const id of ["d-a", "d-b", "d-c"]) expect((await store.get(id))?.items[0]?.priceMicros).toBe(100n);
    expect(await store.get("d-torn")).toBeUndefined();
    expect(readdirSync(join(dir, "gw-1")).sort()).toEqual(["gw-1.corrupt"]);
    expect(readFileSync(join(dir, "gw-1", "gw-1.corrupt"), "utf8")).toBe("Zm9vYmFy 12345678\n");

    // A gateway under another id has its own spool and does not touch this one.
    const other = new ReceiptSpool(join(dir, "gw-2"), "gw-2");
    await other.append(receipt("d-other"));
    await createSpendGuard({ nc: await nats.connect("gw-1b"), gatewayId: "gw-1", logger, spoolDir: join(dir, "gw-1") });
    expect(existsSync(join(dir, "gw-2", "gw-2.receipts"))).toBe(true);
    expect(await store.get("d-other")).toBeUndefined();

    // Replaying again stores nothing twice: one message per decision in the stream.
    const jsm = await jetstreamManager(nats.nc);
    expect((await jsm.streams.info(streams.receipts)).state.messages).toBe(3);
  });
  it("appends during a replay - every receipt is stored, none is written into a file already read and deleted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chorus-spool-race-"));
    const spool = new ReceiptSpool(dir, "gw-race");
    const store = await ReceiptStore.open(await nats.connect("gw-race"));
    const ids = Array.from({ length: 200 }, (_, i) => `race-${i}`);
    const appends: Promise<void>[] = [];
    const replays: Promise<unknown>[] = [];
    for (const [i, id] of ids.entries()) {
      appends.push(spool.append(receipt(id)));
      if (i % 10 === 5) replays.push(spool.replay(store));
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all([...appends, ...replays]);
    await spool.replay(store);
    expect(spool.pending).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
    const reader = await ReceiptStore.open(await nats.connect("reader-race"), { cacheSize: 0 });
    const missing = [];
    for (const id of ids) if (!(await reader.get(id))) missing.push(id);
    expect(missing).toEqual([]);
  });
});
