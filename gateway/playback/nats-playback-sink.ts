import { toBinary } from "@bufbuild/protobuf";
import { type PlaybackSignal, PlaybackSignalSchema } from "../../gen/chorus/v1/decision_pb.ts";
import type { NatsConnection } from "../../lib/nats/connect.ts";
import { natsToConnectError } from "../../lib/nats/nats-error.ts";
import { subjects } from "../../lib/subjects.ts";
import type { PlaybackSink } from "../server/ports.ts";

/**
 * Publishes each PlaybackSignal (protobuf binary) with core NATS on `subjects.playback(userId)`, so one user's
 * signals stay in order on one shard subject.
 *
 * Flush semantics: `publish` resolves after a NATS flush, i.e. once the server has received every signal of the
 * call (a PING/PONG round trip behind them). That is "the mesh has it", not "an agent processed it": core NATS has
 * no delivery acknowledgement, and a subscriber that is down misses signals (agents recover from snapshots).
 * A closed or draining connection fails the call with UNAVAILABLE.
 */
export class NatsPlaybackSink implements PlaybackSink {
  constructor(private readonly nc: NatsConnection) {}

  async publish(signals: readonly PlaybackSignal[]): Promise<number> {
    try {
      for (const signal of signals)
        this.nc.publish(subjects.playback(signal.userId), toBinary(PlaybackSignalSchema, signal));
      // PINGs are pipelined: concurrent calls' flushes overlap rather than queue.
      await this.nc.flush();
    } catch (err) {
      throw natsToConnectError(err, "publishing playback signals");
    }
    return signals.length;
  }
}
