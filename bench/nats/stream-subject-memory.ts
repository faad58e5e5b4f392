/**
 * npm run bench:nats-subjects -- [--messages 400000]
 *
 * What a stored fact costs nats-server's memory, by how the stream is keyed (why the ledger's streams keep a few
 * subjects, ledger/README.md): each shape stores the same messages (200-byte payloads, like a LedgerEntry) in a
 * fresh file-backed stream of a fresh nats-server, and the server's resident memory is read from /proc.
 *  - subject per fact: one subject per message, one message per subject, discard new per subject (the events and
 *    receipts streams before 2026-12-07);
 *  - fact id on shared subjects: a few subjects, each message's Nats-Msg-Id its fact id, a duplicate window longer
 *    than the run (the events stream now: the ids are held for the window, then dropped);
 *  - shared subjects, no id: the floor.
 * Prints bytes of RSS per message for each; JSON in --json.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiscardPolicy, jetstreamManager, type StreamConfig } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { Command } from "commander";
import { freePort } from "../../lib/nats/nats-server-process.ts";
import { rssKbOf } from "../lib/process-sampler.ts";
import { formatTable, writeJson } from "../lib/report-table.ts";

const opts = new Command()
  .option("--messages <n>", "messages stored per shape", "400000")
  .option("--json <path>", "result file", "bench-results/nats-subject-memory.json")
  .parse()
  .opts<{ messages: string; json: string }>();

const rssMb = (pid: number) => rssKbOf(pid) / 1024;
const token = (i: number) => Buffer.from(`decision-${i.toString(36)}-0123456789abcdef`).toString("base64url");

interface Shape {
  name: string;
  config: Partial<StreamConfig>;
  subject: (i: number) => string;
  msgID?: (i: number) => string;
}

const shapes: Shape[] = [
  {
    name: "subject per fact",
    config: { max_msgs_per_subject: 1, discard: DiscardPolicy.New, discard_new_per_subject: true },
    subject: (i) => `e.impression.camp-${i % 10}.${token(i)}.Y3JlYXRpdmUtMQ`,
    msgID: (i) => `${token(i)}.Y3JlYXRpdmUtMQ`,
  },
  {
    name: "fact id on shared subjects",
    config: { discard: DiscardPolicy.New, duplicate_window: nanos(3_600_000) },
    subject: (i) => `e.impression.camp-${i % 10}`,
    // As factMessageId: "f." and 22 base64url characters.
    msgID: (i) => `f.${token(i).slice(0, 22)}`,
  },
  {
    name: "shared subjects, no id",
    config: { discard: DiscardPolicy.New },
    subject: (i) => `e.impression.camp-${i % 10}`,
  },
];

async function measure(shape: Shape, messages: number) {
  const dir = mkdtempSync(join(tmpdir(), "chorus-subjects-"));
  const port = await freePort();
  const server = spawn("nats-server", ["-js", "-sd", dir, "-a", "127.0.0.1", "-p", String(port)], {
    stdio: "ignore",
  });
  try {
    await new Promise((r) => setTimeout(r, 500));
    const nc = await connect({ servers: `127.0.0.1:${port}` });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "E", subjects: ["e.>"], ...shape.config });
    const js = jsm.jetstream();
    const payload = new Uint8Array(200);
    const before = rssMb(server.pid!);
    let inFlight: Promise<unknown>[] = [];
    for (let i = 0; i < messages; i++) {
      inFlight.push(js.publish(shape.subject(i), payload, shape.msgID ? { msgID: shape.msgID(i) } : {}));
      if (inFlight.length >= 500) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);
    const info = await jsm.streams.info("E");
    // Let the server settle (block caches expire after a few seconds).
    await new Promise((r) => setTimeout(r, 5_000));
    const after = rssMb(server.pid!);
    await nc.close();
    return {
      shape: shape.name,
      messages: info.state.messages,
      subjects: info.state.num_subjects ?? 0,
      rssBeforeMb: Math.round(before * 10) / 10,
      rssAfterMb: Math.round(after * 10) / 10,
      bytesPerMessage: Math.round(((after - before) * 1024 * 1024) / messages),
    };
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [];
for (const shape of shapes) results.push(await measure(shape, Number(opts.messages)));
type Result = (typeof results)[number];
const columns = [
  { header: "stream keyed by", value: (r: Result) => r.shape },
  { header: "messages", value: (r: Result) => r.messages },
  { header: "subjects", value: (r: Result) => r.subjects },
  { header: "RSS before MiB", value: (r: Result) => r.rssBeforeMb },
  { header: "RSS after MiB", value: (r: Result) => r.rssAfterMb },
  { header: "bytes per message", value: (r: Result) => r.bytesPerMessage },
];
process.stdout.write(`${formatTable(columns, results)}\n`);
writeJson(opts.json, { messages: Number(opts.messages), results });
