/**
 * node --import tsx bench/nats/response-window.ts [--seconds 20] [--rate 1000]
 *
 * What `allow_responses`' window costs nats-server (lib/nats/permissions.ts RESPONSE_WINDOW_MS): a consumer whose user
 * may answer requests receives JetStream messages (each carries a `$JS.ACK` reply subject) at a fixed rate and acks
 * them, once with the server's default window (2 minutes) and once with ours. Prints nats-server's CPU per message
 * in each (from /proc) and its resident memory at the end; JSON in --json.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Command } from "commander";
import { freePort } from "../../lib/nats/nats-server-process.ts";
import { RESPONSE_WINDOW_MS } from "../../lib/nats/permissions.ts";
import { rssKbOf } from "../lib/process-sampler.ts";
import { formatTable, writeJson } from "../lib/report-table.ts";

const opts = new Command()
  .option("--seconds <n>", "length of each run", "20")
  .option("--rate <n>", "messages per second", "1000")
  .option("--json <path>", "result file", "bench-results/nats-response-window.json")
  .parse()
  .opts<{ seconds: string; rate: string; json: string }>();

const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
};
const rssMb = (pid: number) => rssKbOf(pid) / 1024;

async function run(window: string) {
  const dir = mkdtempSync(join(tmpdir(), "chorus-rw-"));
  const port = await freePort();
  writeFileSync(
    join(dir, "s.conf"),
    `port: ${port}\njetstream { store_dir: "${dir}" }\nauthorization { users: [\n { user: admin, password: admin }\n { user: c, password: c, permissions: { publish: { allow: ["$JS.API.>", "$JS.ACK.>"] }, subscribe: { allow: ["_INBOX.>", "d.>"] }, allow_responses: ${window} } }\n] }\n`,
  );
  const server = spawn("nats-server", ["-c", join(dir, "s.conf"), "-a", "127.0.0.1"], { stdio: "ignore" });
  try {
    await new Promise((r) => setTimeout(r, 500));
    const admin = await connect({ servers: `127.0.0.1:${port}`, user: "admin", pass: "admin" });
    const jsm = await jetstreamManager(admin);
    await jsm.streams.add({ name: "S", subjects: ["s.>"] });
    await jsm.consumers.add("S", { durable_name: "c", ack_policy: AckPolicy.Explicit });
    const nc = await connect({ servers: `127.0.0.1:${port}`, user: "c", pass: "c" });
    const consumer = await jetstream(nc).consumers.get("S", "c");
    let acked = 0;
    const messages = await consumer.consume({ max_messages: 500 });
    void (async () => {
      for await (const m of messages) {
        m.ack();
        acked++;
      }
    })();
    const js = jetstream(admin);
    const rate = Number(opts.rate);
    const seconds = Number(opts.seconds);
    const cpu0 = cpuMs(server.pid!);
    const started = Date.now();
    let sent = 0;
    while (Date.now() - started < seconds * 1000) {
      const due = ((Date.now() - started) / 1000) * rate;
      while (sent < due) {
        js.publish(`s.${sent % 16}`, new Uint8Array(100)).catch(() => {});
        sent++;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const cpu = cpuMs(server.pid!) - cpu0;
    const result = {
      window,
      sent,
      acked,
      natsCpuUsPerMessage: Math.round((cpu * 1000) / sent),
      natsRssMb: Math.round(rssMb(server.pid!)),
    };
    await messages.close();
    await nc.close();
    await admin.close();
    return result;
  } finally {
    server.kill();
  }
}

type Row = Awaited<ReturnType<typeof run>>;
const rows: Row[] = [];
for (const window of ["true", `{ max: 1, expires: "${RESPONSE_WINDOW_MS}ms" }`]) rows.push(await run(window));
console.log(
  formatTable(
    [
      { header: "allow_responses", value: (r: Row) => r.window },
      { header: "sent", value: (r: Row) => r.sent },
      { header: "acked", value: (r: Row) => r.acked },
      { header: "nats-server CPU µs/msg", value: (r: Row) => r.natsCpuUsPerMessage },
      { header: "nats-server RSS MB", value: (r: Row) => r.natsRssMb },
    ],
    rows,
  ),
);
console.log(
  `results: ${writeJson(opts.json, { benchmark: "nats-response-window", at: new Date().toISOString(), rate: Number(opts.rate), seconds: Number(opts.seconds), rows })}`,
);
