import { onShutdown, signalReady } from "../../lib/process/child-lifecycle.ts";
import { http2UnarySender } from "./http2-unary-sender.ts";
import type { Http2UnaryTarget, Shard } from "./http2-unary-target.ts";
import { encodeHistogram } from "./latency-histogram.ts";
import type { ClientReply, LoadTarget, RunStep, StepOutcome } from "./load-client-protocol.ts";
import { natsScatterSender } from "./nats-scatter-sender.ts";
import { type OpenLoopResult, runOpenLoop, type Send } from "./open-loop.ts";
import { rawHttp2Sender } from "./raw-http2-sender.ts";

/**
 * A load client process: runs open-loop steps for its parent (LoadClient). It is a separate process so that its
 * CPU is measured apart from the system under test and its event loop is not shared with the benchmark's own.
 * Connections are kept per target across steps (warm, like a long-lived client).
 */
const senders = new Map<string, Promise<{ send: Send; close(): void }>>();
const reply = (message: ClientReply) => process.send?.(message);
/** Answers with ads not yet sent to the parent (targets with `returnSold`), sent in batches with each progress. */
let sold: string[] = [];
const onSold = (message: Buffer) => sold.push(message.toString("base64"));
const sendSold = (id: number) => {
  if (sold.length === 0) return;
  reply({ type: "sold", id, messages: sold });
  sold = [];
};

function senderFor(target: LoadTarget, shard: Shard) {
  const key = JSON.stringify({ ...target, bodies: undefined, payload: undefined });
  let sender = senders.get(key);
  if (!sender) {
    sender = target.kind === "http2-unary" ? unarySender(target, shard) : natsScatterSender(target);
    senders.set(key, sender);
    // A target that could not be reached is retried by the next step, not cached as a failure.
    sender.catch(() => senders.delete(key));
  }
  return sender;
}

function unarySender(target: Http2UnaryTarget, shard: Shard) {
  if (target.client !== "node-http2") return rawHttp2Sender(target, shard, target.returnSold ? { onSold } : {});
  if (target.returnSold) throw new Error("returnSold needs the raw-http2 client");
  return http2UnarySender(target, shard);
}

/** A result as it crosses to the parent: histograms compressed. */
const outcome = ({ latency, sendLag, refusals, ...rest }: OpenLoopResult): StepOutcome => ({
  ...rest,
  latency: encodeHistogram(latency),
  sendLag: encodeHistogram(sendLag),
  refusals: encodeHistogram(refusals),
});

process.on("message", async (request: RunStep) => {
  try {
    const { send } = await senderFor(request.target, request.shard);
    const result = await runOpenLoop({
      rate: request.rate,
      durationMs: request.durationMs,
      send,
      phaseMs: (request.shard.index * 1000) / (request.rate * request.shard.count),
      rampMs: request.rampMs,
      onProgress: (progress) => {
        sendSold(request.id);
        reply({ type: "progress", id: request.id, progress });
      },
      windowMs: request.windowMs,
      onWindow: (window, index) => reply({ type: "window", id: request.id, index, outcome: outcome(window) }),
    });
    sendSold(request.id);
    reply({ type: "result", id: request.id, outcome: outcome(result) });
  } catch (err) {
    reply({ type: "failed", id: request.id, message: err instanceof Error ? err.message : String(err) });
  }
});

onShutdown(async () => {
  await Promise.allSettled([...senders.values()].map(async (s) => (await s).close()));
});
signalReady();
