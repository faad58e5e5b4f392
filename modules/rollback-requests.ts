/**
 * Automatic rollback without giving processes the pen: only the operator side writes module state. A gateway or
 * agent host whose rules condemn a version (rollback-guard.ts) stops using it at once, then asks the rollout
 * steward on subjects.moduleRollback(module); the steward (`chorus modules steward`, and the launcher of npm start),
 * connected as the operator, applies rollbackVersion to the shared state and answers with the result.
 *
 * Why a request rather than a narrower KV grant: a KV write permission cannot say "only remove this version", so a
 * process allowed to write `state.<module>` could also activate any published version. A request names one
 * version, and the steward only ever takes a version *out* of its role (rollbackVersion); the bus lets a process
 * ask only for the modules it runs (lib/nats/permissions.ts).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { jetstream } from "@nats-io/jetstream";
import { headers, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import { ModuleRollbackRequestSchema, ModuleStateSchema } from "../gen/chorus/v1/module_pb.ts";
import type { Logger } from "../lib/log/logger.ts";
import { subjects } from "../lib/subjects.ts";
import { ModuleRegistry } from "./module-registry.ts";
import { rollbackVersion } from "./module-state-changes.ts";

const ERROR_HEADER = "Chorus-Error";
/** Stewards share the requests (any one applies it; the state write is compare-and-set anyway). */
const STEWARD_QUEUE = "chorus-rollout-steward";

/** The `rollback` a router, scorer or watcher calls: a request to the steward, in this process's name. */
export function rollbackOverNats(
  nc: NatsConnection,
  module: string,
  process: string,
  timeoutMs = 5_000,
): (version: string, reason: string) => Promise<void> {
  return async (version, reason) => {
    const request = create(ModuleRollbackRequestSchema, { module, version, reason, process });
    const reply = await nc.request(subjects.moduleRollback(module), toBinary(ModuleRollbackRequestSchema, request), {
      timeout: timeoutMs,
    });
    const error = reply.headers?.get(ERROR_HEADER);
    if (error) throw new Error(`rollout steward: ${error}`);
  };
}

/** The steward: applies rollback requests to the shared module state. */
export function serveRollbackRequests(nc: NatsConnection, registry: ModuleRegistry, logger: Logger): Subscription {
  return nc.subscribe(subjects.moduleRollbackAll, {
    queue: STEWARD_QUEUE,
    callback: (err, msg) => {
      if (err) return;
      void (async () => {
        try {
          const request = fromBinary(ModuleRollbackRequestSchema, msg.data);
          if (subjects.moduleRollback(request.module) !== msg.subject || !request.version)
            throw new Error(`a rollback request on ${msg.subject} must name that module and a version`);
          const actor = `${request.process || "unnamed process"} (automatic rollback)`;
          const changed = await registry.updateState(request.module, (state) =>
            rollbackVersion(state, request.version, { actor, reason: request.reason }),
          );
          const state = changed?.state ?? (await registry.state(request.module)).state;
          if (changed)
            logger.warn({ module: request.module, version: request.version, actor }, "module version rolled back");
          msg.respond(toBinary(ModuleStateSchema, state));
        } catch (e) {
          const h = headers();
          h.set(ERROR_HEADER, (e instanceof Error ? e.message : String(e)).slice(0, 500));
          logger.warn({ err: e, subject: msg.subject }, "rollback request refused");
          msg.respond(new Uint8Array(), { headers: h });
        }
      })();
    },
  });
}

/** The steward on its own connection's registry (the launcher, `chorus modules steward`). */
export async function startRolloutSteward(nc: NatsConnection, logger: Logger): Promise<{ stop(): void }> {
  const sub = serveRollbackRequests(nc, await ModuleRegistry.open(jetstream(nc)), logger);
  await nc.flush();
  return { stop: () => sub.unsubscribe() };
}
