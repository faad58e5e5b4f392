import { mkdirSync } from "node:fs";
import { open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type DecisionReceipt, DecisionReceiptSchema } from "../gen/chorus/v1/ledger_pb.ts";
import type { ReceiptStore } from "./receipt-store.ts";

/**
 * Decision receipts written to local disk (fsync'ed) while NATS is unreachable, so a gateway can keep selling
 * within the leases it already holds without selling anything unrecorded. `replay` moves the spool aside and
 * stores every receipt in JetStream; receipts are keyed by decision id, so replaying twice stores each once.
 */
export class ReceiptSpool {
  private readonly file: string;
  private replaying: Promise<number> | undefined;

  constructor(
    private readonly dir: string,
    name: string,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, `${name}.receipts`);
  }

  async append(receipt: DecisionReceipt): Promise<void> {
    const line = `${Buffer.from(toBinary(DecisionReceiptSchema, receipt)).toString("base64")}\n`;
    const handle = await open(this.file, "a");
    try {
      await handle.appendFile(line);
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  /** Stores every spooled receipt (this gateway's and any left by a crashed run); resolves to how many. */
  replay(store: ReceiptStore): Promise<number> {
    this.replaying ??= this.replayAll(store).finally(() => {
      this.replaying = undefined;
    });
    return this.replaying;
  }

  private async replayAll(store: ReceiptStore): Promise<number> {
    await rename(this.file, `${this.file}.${Date.now()}.replay`).catch(() => undefined);
    let count = 0;
    for (const name of (await readdir(this.dir)).filter((n) => n.endsWith(".replay")).sort()) {
      const path = join(this.dir, name);
      // The last segment has no newline: a write cut short by a crash, whose commit never returned. Skip it.
      const lines = (await readFile(path, "utf8")).split("\n").slice(0, -1);
      for (const line of lines) {
        await store.put(fromBinary(DecisionReceiptSchema, Buffer.from(line, "base64")));
        count++;
      }
      await unlink(path);
    }
    return count;
  }
}
