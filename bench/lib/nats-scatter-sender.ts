import { connect } from "@nats-io/transport-node";
import type { Send } from "./open-loop.ts";

/** A scatter-gather over core NATS: one request to each subject, done when every reply has arrived. */
export interface NatsScatterTarget {
  kind: "nats-scatter";
  natsUrl: string;
  subjects: string[];
  /** Request payload, base64 (a DecideTask-sized message). */
  payload: string;
  timeoutMs: number;
}

export async function natsScatterSender(target: NatsScatterTarget): Promise<{ send: Send; close(): void }> {
  const nc = await connect({ servers: target.natsUrl, name: "bench-scatter-requester" });
  const payload = Buffer.from(target.payload, "base64");
  const send: Send = (done) => {
    Promise.all(target.subjects.map((s) => nc.request(s, payload, { timeout: target.timeoutMs }))).then(
      () => done(undefined, -1),
      (err: unknown) => done(err instanceof Error ? err.message : String(err), 0),
    );
  };
  return { send, close: () => void nc.close() };
}
