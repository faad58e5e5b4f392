import type { NatsConnection } from "@nats-io/nats-core";

/**
 * Whether a NATS connection is up right now, from its status events (connected -> disconnected ->
 * reconnected ...). Lets the money paths fail fast or spool instead of waiting for a publish timeout, and run
 * catch-up work once the server is back.
 */
export class ConnectionWatch {
  connected = true;
  /** When the connection last came back (ms, wall clock); 0 when it never dropped. */
  reconnectedAt = 0;
  private readonly listeners = new Set<() => void>();

  constructor(nc: NatsConnection) {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect") this.connected = false;
        else if (status.type === "reconnect") {
          this.connected = true;
          this.reconnectedAt = Date.now();
          for (const listener of this.listeners) listener();
        }
      }
    })();
  }

  onReconnect(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
