import { loadConfig, parsers } from "../lib/config/config.ts";
import { createLogger } from "../lib/log/logger.ts";
import { connectNats } from "../lib/nats/connect.ts";
import { onShutdown, signalReady } from "../lib/process/child-lifecycle.ts";
import { Ledger } from "./ledger.ts";

/**
 * The ledger process: NATS_URL=nats://127.0.0.1:4222 node --import tsx ledger/ledger-main.ts
 * Run one instance (a second one stops itself: the snapshot is written with optimistic concurrency).
 */
const config = loadConfig({
  natsUrl: { env: "NATS_URL", default: "nats://127.0.0.1:4222", parse: parsers.string, help: "NATS server URL" },
});
const log = createLogger(process.env.CHORUS_PROCESS_NAME ?? "ledger");
// Crash-only: anything unexpected ends the process and its supervisor restarts it; the state is rebuilt exactly.
process.on("unhandledRejection", (err) => {
  log.fatal({ err }, "unhandled rejection; exiting");
  process.exit(1);
});
const nc = await connectNats({ servers: config.natsUrl, name: "chorus-ledger" });
const ledger = await Ledger.start({ nc, log });
onShutdown(async () => {
  await ledger.stop();
  await nc.drain();
});
signalReady({ lastSequence: ledger.totals.lastSequence.toString() });
log.info({ lastSequence: ledger.totals.lastSequence.toString() }, "ledger ready");
