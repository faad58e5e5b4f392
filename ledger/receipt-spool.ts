import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { appendFile, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type DecisionReceipt, DecisionReceiptSchema } from "../gen/chorus/v1/ledger_pb.ts";
import type { ReceiptStore } from "./receipt-store.ts";

export interface SpoolReplay {
  /** Receipts stored in JetStream. */
  stored: number;
  /** Lines that were not a whole receipt (bad checksum, bad base64, bad protobuf): skipped, kept aside. */
  corrupt: number;
}

/**
 * Decision receipts written to local disk (fsync'ed) while NATS is unreachable, so a gateway can keep selling
 * within the leases it already holds without selling anything unrecorded. `replay` moves the spool aside and
 * stores every receipt in JetStream; receipts are keyed by decision id, so replaying twice stores each once.
 *
 * The spool is named by the gateway id: a gateway started again under the same id (a supervisor's restart, a
 * replacement machine given the dead one's disk) replays what its predecessor spooled and never stored.
 *
 * One line per receipt: base64 of the protobuf, a space, the first 8 hex digits of its SHA-256. A line that fails
 * the check (a torn write, a bad sector, an edited file) is skipped and counted, never blocks the receipts after it,
 * and is appended to `<gateway>.corrupt` for an operator to look at: it is no receipt anyone can trust.
 */
export class ReceiptSpool {
  private readonly file: string;
  private readonly corruptFile: string;
  private replaying: Promise<SpoolReplay> | undefined;
  /**
   * Appends and the replay's rename take turns: an append whose file was opened before the rename would otherwise
   * write its line into the file being replayed, after it was read and before it is deleted (a lost receipt).
   */
  private fileTurn: Promise<unknown> = Promise.resolve();
  /** Corrupt lines skipped since this process started. */
  corruptLines = 0;
  /** Whether receipts wait on disk (spooled, or a replay that did not finish): the owner replays until false. */
  pending: boolean;

  constructor(
    private readonly dir: string,
    private readonly name: string,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, `${name}.receipts`);
    this.corruptFile = join(dir, `${name}.corrupt`);
    this.pending = existsSync(this.file) || readdirSync(dir).some((n) => this.isReplayFile(n));
  }

  /**
   * Resolves once the receipt's line is on disk (fsync'ed). Receipts appended while a write is under way go out
   * together in the next one: one write and one fsync per group, so an outage at a high rate does not queue every
   * decision behind the fsyncs of all the others.
   */
  append(receipt: DecisionReceipt): Promise<void> {
    this.pending = true;
    return new Promise((resolve, reject) => {
      this.queued.push({ line: spoolLine(receipt), resolve, reject });
      if (this.queued.length === 1) void this.inTurn(() => this.writeQueued());
    });
  }

  private queued: { line: string; resolve: () => void; reject: (err: unknown) => void }[] = [];

  private async writeQueued(): Promise<void> {
    const group = this.queued;
    this.queued = [];
    try {
      const handle = await open(this.file, "a");
      try {
        await handle.appendFile(group.map((q) => q.line).join(""));
        await handle.datasync();
      } finally {
        await handle.close();
      }
      for (const q of group) q.resolve();
    } catch (err) {
      for (const q of group) q.reject(err);
    }
  }

  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.fileTurn.then(fn, fn);
    this.fileTurn = run.catch(() => undefined);
    return run;
  }

  /** `<name>.receipts.<ms>.replay`: this spool's, never another gateway's sharing the directory. */
  private isReplayFile(file: string): boolean {
    return file.startsWith(`${this.name}.receipts.`) && file.endsWith(".replay");
  }

  /** Stores every spooled receipt (this gateway's and any left by a crashed run under the same id). */
  replay(store: ReceiptStore): Promise<SpoolReplay> {
    this.replaying ??= this.replayAll(store).finally(() => {
      this.replaying = undefined;
    });
    return this.replaying;
  }

  private async replayAll(store: ReceiptStore): Promise<SpoolReplay> {
    await this.inTurn(async () => {
      // Cleared inside the turn: an append after the rename sets it again, and a failed replay below too.
      this.pending = false;
      await rename(this.file, `${this.file}.${Date.now()}.replay`).catch(() => undefined);
    });
    try {
      return await this.storeReplayFiles(store);
    } catch (err) {
      this.pending = true;
      throw err;
    }
  }

  private async storeReplayFiles(store: ReceiptStore): Promise<SpoolReplay> {
    const result: SpoolReplay = { stored: 0, corrupt: 0 };
    for (const name of (await readdir(this.dir)).filter((n) => this.isReplayFile(n)).sort()) {
      const path = join(this.dir, name);
      // The last segment has no newline: a write cut short by a crash, whose commit never returned. Skip it.
      const lines = (await readFile(path, "utf8")).split("\n").slice(0, -1);
      const corrupt: string[] = [];
      for (const line of lines) {
        const receipt = parseSpoolLine(line);
        if (!receipt) {
          corrupt.push(line);
          continue;
        }
        await store.putOnOwnSubject(receipt);
        result.stored++;
      }
      // Kept before the file goes, so a crash between the two repeats the count rather than losing the lines.
      if (corrupt.length > 0) await appendFile(this.corruptFile, `${corrupt.join("\n")}\n`);
      result.corrupt += corrupt.length;
      this.corruptLines += corrupt.length;
      await unlink(path);
    }
    return result;
  }
}

export function spoolLine(receipt: DecisionReceipt): string {
  const bytes = toBinary(DecisionReceiptSchema, receipt);
  return `${Buffer.from(bytes).toString("base64")} ${checksum(bytes)}\n`;
}

/** The receipt on a spool line, or undefined when the line is not one whole, intact receipt. */
export function parseSpoolLine(line: string): DecisionReceipt | undefined {
  const match = /^([A-Za-z0-9+/]+={0,2}) ([0-9a-f]{8})$/.exec(line);
  if (!match) return undefined;
  const bytes = Buffer.from(match[1]!, "base64");
  if (checksum(bytes) !== match[2]) return undefined;
  try {
    const receipt = fromBinary(DecisionReceiptSchema, bytes);
    return receipt.decisionId ? receipt : undefined;
  } catch {
    return undefined;
  }
}

function checksum(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 8);
}
