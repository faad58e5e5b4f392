import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../gen/grpc/health/v1/health_pb.ts";

export type ServingStatusName = "SERVING" | "NOT_SERVING";

/**
 * The serving status of "" (the whole server) and each served service, for grpc.health.v1. The lead flips it to
 * NOT_SERVING when draining, so load balancers stop sending before the listener closes.
 */
export class HealthStatus {
  private readonly statuses = new Map<string, ServingStatusName>();
  private readonly listeners = new Set<() => void>();

  constructor(services: readonly string[]) {
    for (const name of ["", ...services]) this.statuses.set(name, "SERVING");
  }

  /** Sets one service's status, or every service's (and the server's) when `service` is omitted. */
  set(status: ServingStatusName, service?: string): void {
    if (service !== undefined && !this.statuses.has(service)) throw new Error(`unknown service "${service}"`);
    for (const name of service === undefined ? [...this.statuses.keys()] : [service]) this.statuses.set(name, status);
    for (const listener of [...this.listeners]) listener();
  }

  get(service: string): ServingStatusName | undefined {
    return this.statuses.get(service);
  }

  /** Resolves at the next change, or when the signal aborts. */
  changed(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.listeners.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.listeners.add(done);
      signal.addEventListener("abort", done);
    });
  }
}

/** grpc.health.v1.Health: Check (NOT_FOUND for an unknown service, as the spec asks) and Watch. */
export function healthHandlers(health: HealthStatus): ServiceImpl<typeof Health> {
  const statusOf = (service: string) => {
    const status = health.get(service);
    return status === undefined ? ServingStatus.SERVICE_UNKNOWN : ServingStatus[status];
  };
  return {
    check: async ({ service }) => {
      if (health.get(service) === undefined) throw new ConnectError(`unknown service "${service}"`, Code.NotFound);
      return create(HealthCheckResponseSchema, { status: statusOf(service) });
    },
    // Sends the current status at once and again whenever it changes, until the client or the server ends it.
    async *watch({ service }, { signal }): AsyncGenerator<HealthCheckResponse> {
      let last: ServingStatus | undefined;
      while (!signal.aborted) {
        const status = statusOf(service);
        if (status !== last) yield create(HealthCheckResponseSchema, { status });
        last = status;
        await health.changed(signal);
      }
    },
  };
}
