/**
 * The rollout steps as pure functions ModuleState -> ModuleState, so the CLI, the router's automatic rollback
 * and the tests share one set of rules. Each bumps `revision` and appends to `history`.
 *
 * Roles: active serves every decision outside the canary share; canary serves `canary_percent`; shadow only
 * runs beside active and is compared. `previous` is what a rollback of the active version returns to.
 */
import { clone, create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import {
  ModuleStateChange_Action as Action,
  type ModuleState,
  ModuleStateChangeSchema,
  ModuleStateSchema,
} from "../gen/chorus/v1/module_pb.ts";

const HISTORY_LIMIT = 20;

export class ModuleStateError extends Error {
  override readonly name = "ModuleStateError";
}

export interface ChangeContext {
  actor: string;
  reason?: string;
}

/** Semver precedence (semver.org §11): <0, 0 or >0. Versions are validated by the manifest's pattern. */
export function compareVersions(a: string, b: string): number {
  const [coreA = "", preA] = splitOnce(a, "-");
  const [coreB = "", preB] = splitOnce(b, "-");
  const x = coreA.split(".").map(Number);
  const y = coreB.split(".").map(Number);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
  if (preA === undefined || preB === undefined) return preA === preB ? 0 : preA === undefined ? 1 : -1;
  const p = preA.split(".");
  const q = preB.split(".");
  for (let i = 0; i < Math.max(p.length, q.length); i++) {
    if (p[i] === undefined) return -1;
    if (q[i] === undefined) return 1;
    if (p[i] === q[i]) continue;
    const numeric = /^\d+$/.test(p[i]!) && /^\d+$/.test(q[i]!);
    if (numeric) return Number(p[i]) - Number(q[i]);
    if (/^\d+$/.test(p[i]!)) return -1;
    if (/^\d+$/.test(q[i]!)) return 1;
    return p[i]! < q[i]! ? -1 : 1;
  }
  return 0;
}

function splitOnce(s: string, separator: string): [string, string | undefined] {
  const at = s.indexOf(separator);
  return at < 0 ? [s, undefined] : [s.slice(0, at), s.slice(at + 1)];
}

function record(
  state: ModuleState,
  action: Action,
  version: string,
  { actor, reason = "" }: ChangeContext,
  percent = 0,
): ModuleState {
  const next = clone(ModuleStateSchema, state);
  next.revision = state.revision + 1n;
  next.history.push(create(ModuleStateChangeSchema, { action, version, percent, reason, actor, at: timestampNow() }));
  next.history.splice(0, Math.max(0, next.history.length - HISTORY_LIMIT));
  return next;
}

/**
 * Makes `version` the active one; it leaves the canary and shadow roles if it held them. A version older than the
 * newest ever active is a downgrade (an old signed build may carry a fixed flaw): refused unless `allowDowngrade`,
 * and then marked in the history.
 */
export function activate(
  state: ModuleState,
  version: string,
  context: ChangeContext,
  allowDowngrade = false,
): ModuleState {
  if (state.activeVersion === version) throw new ModuleStateError(`${version} is already active`);
  const newest = state.newestActiveVersion || state.activeVersion;
  const downgrade = newest !== "" && compareVersions(version, newest) < 0;
  if (downgrade && !allowDowngrade)
    throw new ModuleStateError(
      `downgrade refused: ${version} is older than ${newest}, the newest version ever active (--allow-downgrade to do it anyway)`,
    );
  const next = record(state, Action.ACTIVATE, version, context);
  next.history.at(-1)!.downgrade = downgrade;
  if (!downgrade) next.newestActiveVersion = version;
  else next.newestActiveVersion = newest;
  next.previousVersion = state.activeVersion;
  next.activeVersion = version;
  if (next.canaryVersion === version) clearCanary(next);
  if (next.shadowVersion === version) next.shadowVersion = "";
  return next;
}

/** Runs `version` in shadow; an empty version stops shadowing. */
export function shadow(state: ModuleState, version: string, context: ChangeContext): ModuleState {
  if (version !== "" && version === state.activeVersion) throw new ModuleStateError(`${version} is the active version`);
  const next = record(state, Action.SHADOW, version, context);
  next.shadowVersion = version;
  return next;
}

/** Serves `percent` of decisions with `version`; percent 0 ends the canary. */
export function canary(state: ModuleState, version: string, percent: number, context: ChangeContext): ModuleState {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
    throw new ModuleStateError(`canary percent must be an integer from 0 to 100, got ${percent}`);
  }
  if (percent > 0 && version === state.activeVersion) throw new ModuleStateError(`${version} is the active version`);
  if (percent > 0 && state.activeVersion === "") {
    throw new ModuleStateError("no active version yet: activate one before starting a canary");
  }
  const next = record(state, Action.CANARY, version, context, percent);
  if (percent === 0) clearCanary(next);
  else {
    next.canaryVersion = version;
    next.canaryPercent = percent;
  }
  return next;
}

/**
 * Undoes the latest rollout step: ends a running canary and shadow if there is one, otherwise returns the
 * active version to the previous one.
 */
export function rollback(state: ModuleState, context: ChangeContext): ModuleState {
  if (state.canaryVersion !== "" || state.shadowVersion !== "") {
    const next = record(state, Action.ROLLBACK, state.canaryVersion || state.shadowVersion, context);
    clearCanary(next);
    next.shadowVersion = "";
    return next;
  }
  if (state.previousVersion === "")
    throw new ModuleStateError("nothing to roll back: no canary, shadow or previous version");
  return revertActive(state, Action.ROLLBACK, context);
}

/**
 * Takes `version` out of whatever role it holds, as an automatic rollback does once the version's error rate
 * passed its threshold (an active version returns to the previous one, or to the built-in one). Undefined when it holds no role any more (someone else acted first): nothing to write.
 */
export function rollbackVersion(state: ModuleState, version: string, context: ChangeContext): ModuleState | undefined {
  if (version === "") return undefined;
  if (state.canaryVersion === version || state.shadowVersion === version) {
    const next = record(state, Action.AUTO_ROLLBACK, version, context);
    if (next.canaryVersion === version) clearCanary(next);
    if (next.shadowVersion === version) next.shadowVersion = "";
    return next;
  }
  // With no previous version the active one goes back to the build shipped with each process ("").
  if (state.activeVersion === version) return revertActive(state, Action.AUTO_ROLLBACK, context);
  return undefined;
}

function revertActive(state: ModuleState, action: Action, context: ChangeContext): ModuleState {
  const next = record(state, action, state.activeVersion, context);
  next.activeVersion = state.previousVersion;
  // One step only: rolling back twice must not flip back to the version just found bad.
  next.previousVersion = "";
  return next;
}

function clearCanary(state: ModuleState): void {
  state.canaryVersion = "";
  state.canaryPercent = 0;
}
