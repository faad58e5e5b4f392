import { type ClientHttp2Session, connect } from "node:http2";
import { signalReady } from "../../lib/process/child-lifecycle.ts";

/**
 * The client end of many idle HTTP/2 connections, in a process of its own (flood.spec.ts): with both ends in one
 * process 10,000 connections need 20,000 descriptors, past this machine's `ulimit -n`. Opens IDLE_URL's
 * connections IDLE_COUNT at a time in batches of 100, reports how many opened, then answers "live" with how many
 * the server has not closed yet.
 */
const url = process.env.IDLE_URL!;
const count = Number(process.env.IDLE_COUNT);
const open = (): Promise<ClientHttp2Session> =>
  new Promise((resolve) => {
    const session = connect(url);
    session.on("error", () => {});
    session.once("connect", () => resolve(session));
    session.once("close", () => resolve(session));
  });
const live = (sessions: ClientHttp2Session[]) => sessions.filter((s) => !s.closed && !s.destroyed).length;
const sessions: ClientHttp2Session[] = [];
for (let i = 0; i < count; i += 100)
  sessions.push(...(await Promise.all(Array.from({ length: Math.min(100, count - i) }, open))));
process.on("message", (msg: { type?: string }) => {
  if (msg?.type === "live") process.send?.({ type: "live", live: live(sessions) });
});
process.once("disconnect", () => process.exit(0));
signalReady({ opened: live(sessions) });
