import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { decodeMessage } from "../../lib/codecs/registry.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { describeError, reportBadMessage } from "../../lib/nats/bad-messages.ts";
import { readMessage } from "../../lib/nats/read-message.ts";
import { subjects } from "../../lib/subjects.ts";
import type { AnyAgentModule } from "../contract/agent-module.ts";
import type { AgentStateStore } from "./agent-state-store.ts";

/** Header naming the agent instance that published a signal, so that an instance ignores its own. */
export const INSTANCE_HEADER = "Chorus-Instance";
/** The key of an agent's liveness signal (empty payload): it says the instance runs, and changes no state. */
export const ALIVE_KEY = "alive";

export interface SignalMirrorOptions {
  /** Skip signals published by this instance (an agent mirroring its peers). */
  selfInstance?: string;
  /** Skip signals for keys this process computes itself. */
  ignoreKey?: (key: string) => boolean;
  /** Load the stored snapshots first (a restarted process starts from the last known state). */
  store?: AgentStateStore;
  logger: Logger;
  /** Names this mirror's owner in bad-message counts (`gateway`, `agent`); default `mirror`. */
  consumer?: string;
}

/**
 * A local copy of one agent's state rebuilt from its published signals (and its KV snapshots at start). The
 * gateway votes on it in `cached` coordination and falls back to it when an agent misses a deadline; an agent
 * instance mirrors the shards its peers own so that it can answer for any user.
 */
export class SignalMirror {
  readonly state: unknown;
  /** Wall time of the last signal (heartbeats included); 0 = never heard. */
  lastHeardMs = 0;
  /** Keys restored from KV or signals: an empty set means only the neutral (fresh) state is known. */
  readonly knownKeys = new Set<string>();
  private sub: Subscription | undefined;

  private constructor(readonly module: AnyAgentModule) {
    this.state = module.createState();
  }

  static async open(
    nc: NatsConnection,
    module: AnyAgentModule,
    options: SignalMirrorOptions,
    state?: unknown,
  ): Promise<SignalMirror> {
    const mirror = new SignalMirror(module);
    if (state !== undefined) (mirror as { state: unknown }).state = state;
    // Subscribe before loading so that nothing published meanwhile is missed (a later delta wins either way).
    const prefix = subjects.agentSignal(module.name, "").length;
    // A hand-written decoder where the signal has one (lib/codecs/registry.ts: Relevance's 8,192-float model).
    const decode = (bytes: Uint8Array) => decodeMessage(module.signalSchema, bytes);
    mirror.sub = nc.subscribe(subjects.agentSignalAll(module.name), {
      callback: (err, msg) => {
        if (err) return;
        if (options.selfInstance && msg.headers?.get(INSTANCE_HEADER) === options.selfInstance) return;
        mirror.lastHeardMs = Date.now();
        const key = msg.subject.slice(prefix);
        if (key === ALIVE_KEY || options.ignoreKey?.(key)) return;
        const read = readMessage(module.signalSchema, msg.data, decode);
        if (!read.ok) {
          reportBadMessage(options.logger, {
            consumer: `${options.consumer ?? "mirror"}:${module.name}`,
            subject: msg.subject,
            reason: read.reason,
            detail: read.detail,
          });
          return;
        }
        try {
          module.restore(mirror.state, key, read.message);
          mirror.knownKeys.add(key);
        } catch (e) {
          reportBadMessage(options.logger, {
            consumer: `${options.consumer ?? "mirror"}:${module.name}`,
            subject: msg.subject,
            reason: "out_of_range",
            detail: describeError(e),
          });
        }
      },
    });
    if (options.store) {
      const keys = await options.store.load(module, mirror.state);
      for (const key of keys) if (!options.ignoreKey?.(key)) mirror.knownKeys.add(key);
    }
    return mirror;
  }

  /** Erasure: drops the listeners from the mirrored state (`chorus users forget`); returns the keys changed. */
  forget(pseudonyms: ReadonlySet<string>): string[] {
    return [...(this.module.forget?.(this.state, pseudonyms) ?? [])];
  }

  close(): void {
    this.sub?.unsubscribe();
  }
}
