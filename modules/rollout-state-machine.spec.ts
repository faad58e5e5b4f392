import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ModuleManifestSchema, type ModuleState, ModuleStateSchema } from "../gen/chorus/v1/module_pb.ts";
import { createLogger } from "../lib/log/logger.ts";
import { FailureWindow } from "./failure-window.ts";
import * as changes from "./module-state-changes.ts";
import type { LoadedModule, ModuleView } from "./module-watcher.ts";
import type { GuardConfig } from "./rollback-guard.ts";
import { bucketOf, type RoleName, type RoleSlot, Rollout } from "./rollout-state-machine.ts";

const SHIPPED = "builtin";
const config: GuardConfig = {
  rollbackErrorRate: 0.5,
  rollbackMinCalls: 4,
  probationCalls: 2,
  probationMs: 1_000,
  hangLimit: 3,
  hangWindowMs: 60_000,
};
const ctx = { actor: "test" };

interface Slot extends RoleSlot {
  readonly role: RoleName;
}

/** A host whose slots are plain objects: what was started and stopped, in order. */
function fakeHost(refuse: ReadonlySet<string> = new Set()) {
  const log: string[] = [];
  return {
    log,
    host: {
      async start(role: RoleName, version: string): Promise<Slot | undefined> {
        if (refuse.has(version)) {
          log.push(`refused ${role} ${version}`);
          return undefined;
        }
        log.push(`start ${role} ${version}`);
        return { role, version, window: new FailureWindow(10) };
      },
      stop(slot: Slot): void {
        log.push(`stop ${slot.role} ${slot.version}`);
      },
    },
  };
}

function rollout(options: { holdPrevious?: boolean; refuse?: Set<string>; guard?: Partial<GuardConfig> } = {}) {
  const { log, host } = fakeHost(options.refuse);
  const rollbacks: { version: string; reason: string }[] = [];
  const machine = new Rollout<Slot>({
    initial: { version: SHIPPED, bytes: new Uint8Array() },
    initialSlot: { role: "active", version: SHIPPED, window: new FailureWindow(10) },
    host,
    holdPrevious: options.holdPrevious ?? true,
    config: { ...config, ...options.guard },
    rollback: async (version, reason) => {
      rollbacks.push({ version, reason });
    },
    logger: createLogger("rollout-test", "silent"),
    label: "test module",
  });
  return { machine, log, rollbacks };
}

function loaded(version: string): LoadedModule | undefined {
  if (version === "") return undefined;
  return { module: "kernel", version, manifest: create(ModuleManifestSchema, { version }), bytes: new Uint8Array() };
}

/** What a ModuleWatcher gives for `state` when every version it names loaded. */
function viewOf(state: ModuleState): ModuleView {
  return {
    state,
    active: loaded(state.activeVersion),
    previous: loaded(state.previousVersion),
    canary: loaded(state.canaryVersion),
    canaryPercent: state.canaryPercent,
    shadow: loaded(state.shadowVersion),
    refused: new Map(),
  };
}

const empty = () => create(ModuleStateSchema, { module: "kernel" });

afterEach(() => {
  vi.useRealTimers();
});

describe("rollout state machine", () => {
  it("activate: the new version serves, the old one is held as previous for probationMs, then released", async () => {
    vi.useFakeTimers();
    const { machine, log } = rollout();
    const v1 = changes.activate(empty(), "1.0.0", ctx);
    await machine.apply(viewOf(v1));
    expect(machine.active.version).toBe("1.0.0");
    // No previous in the state (the shipped build was active): nothing held.
    expect(machine.previous).toBeUndefined();
    const v2 = changes.activate(v1, "1.1.0", ctx);
    await machine.apply(viewOf(v2));
    expect(log).toEqual([
      "start active 1.0.0",
      "stop active builtin",
      "start previous 1.0.0",
      "start active 1.1.0",
      "stop active 1.0.0",
    ]);
    expect(machine.active.version).toBe("1.1.0");
    expect(machine.servingPrevious()?.version).toBe("1.0.0");
    expect(machine.stats("ref").fallback).toBe("ref");
    vi.advanceTimersByTime(config.probationMs + 1);
    expect(machine.previous).toBeUndefined();
    expect(log.at(-1)).toBe("stop previous 1.0.0");
    expect(machine.slots().map((s) => s.version)).toEqual(["1.1.0"]);
  });

  it("activate without holdPrevious (agent scoring): no previous is started", async () => {
    const { machine, log } = rollout({ holdPrevious: false });
    const v2 = changes.activate(changes.activate(empty(), "1.0.0", ctx), "1.1.0", ctx);
    await machine.apply(viewOf(v2));
    expect(log).toEqual(["start active 1.1.0", "stop active builtin"]);
    expect(machine.previous).toBeUndefined();
  });

  it("a version that does not start here leaves the active one in place and a role empty", async () => {
    const { machine, log } = rollout({ refuse: new Set(["2.0.0", "3.0.0"]) });
    let state = changes.activate(empty(), "2.0.0", ctx);
    await machine.apply(viewOf(state));
    expect(machine.active.version).toBe(SHIPPED);
    state = changes.canary(state, "3.0.0", 50, ctx);
    await machine.apply(viewOf(state));
    expect(machine.canary).toBeUndefined();
    expect(machine.canaryPercent).toBe(0);
    // Each new view naming a version that did not start here tries it again.
    expect(log).toEqual(["refused active 2.0.0", "refused active 2.0.0", "refused canary 3.0.0"]);
  });

  it("canary: its share by bucketOf(decision id); promote = activate it; percent 0 ends it", async () => {
    const { machine, log } = rollout();
    let state = changes.activate(empty(), "1.0.0", ctx);
    state = changes.canary(state, "1.1.0", 30, ctx);
    await machine.apply(viewOf(state));
    expect(machine.canary?.version).toBe("1.1.0");
    expect(machine.canaryPercent).toBe(30);
    for (let i = 0; i < 200; i++) {
      const id = `decision-${i}`;
      expect(machine.canaryFor(id)?.version).toBe(bucketOf(id) < 30 ? "1.1.0" : undefined);
    }
    // A canary naming the active version is not a canary.
    await machine.apply(viewOf(create(ModuleStateSchema, { ...state, canaryVersion: "1.0.0", revision: 10n })));
    expect(machine.canary).toBeUndefined();
    expect(machine.canaryPercent).toBe(0);
    state = changes.canary(state, "1.1.0", 30, ctx);
    await machine.apply(viewOf(state));
    log.length = 0;
    state = changes.activate(state, "1.1.0", ctx); // promote
    await machine.apply(viewOf(state));
    expect(machine.active.version).toBe("1.1.0");
    expect(machine.canary).toBeUndefined();
    expect(log).toEqual(["start previous 1.0.0", "start active 1.1.0", "stop active 1.0.0", "stop canary 1.1.0"]);
  });

  it("shadow: a fresh comparison for each version; stopped when the state clears it", async () => {
    const { machine, log } = rollout();
    let state = changes.shadow(changes.activate(empty(), "1.0.0", ctx), "1.1.0", ctx);
    await machine.apply(viewOf(state));
    const first = machine.servingShadow();
    expect(first?.version).toBe("1.1.0");
    first!.comparison.skipped++;
    state = changes.shadow(state, "1.2.0", ctx);
    await machine.apply(viewOf(state));
    expect(machine.shadow?.version).toBe("1.2.0");
    expect(machine.shadow?.comparison.skipped).toBe(0);
    state = changes.shadow(state, "", ctx);
    await machine.apply(viewOf(state));
    expect(machine.shadow).toBeUndefined();
    expect(log.slice(-3)).toEqual(["start shadow 1.2.0", "stop shadow 1.1.0", "stop shadow 1.2.0"]);
  });

  it("probation and rolled back: one failure in probation condemns a version; it serves nowhere until named again later", async () => {
    const { machine, rollbacks } = rollout();
    let state = changes.activate(empty(), "1.0.0", ctx);
    await machine.apply(viewOf(state));
    expect(machine.stats(undefined).active.inProbation).toBe(true);
    expect(machine.record(machine.active, "active", true, "error: trap")).toBe(true);
    expect(machine.rolledBack("1.0.0")).toBe(true);
    expect(machine.servingActive()).toBeUndefined();
    expect(machine.stats(undefined).rolledBack).toEqual(["1.0.0"]);
    expect(rollbacks).toHaveLength(1);
    expect(rollbacks[0]?.reason).toMatch(/^probation: active 1\.0\.0 failed/);
    // The automatic rollback returns to the shipped build; a later activation of the same version clears it.
    state = changes.rollbackVersion(state, "1.0.0", ctx)!;
    await machine.apply(viewOf(state));
    expect(machine.active.version).toBe(SHIPPED);
    state = changes.activate(state, "1.0.0", ctx, true);
    await machine.apply(viewOf(state));
    expect(machine.rolledBack("1.0.0")).toBe(false);
    expect(machine.servingActive()?.version).toBe("1.0.0");
  });

  it("a rolled-back previous is not held; the shipped build is never judged", async () => {
    const { machine, rollbacks } = rollout({ guard: { probationCalls: 0, probationMs: 0 } });
    const shipped = machine.active;
    for (let i = 0; i < 10; i++) machine.record(shipped, "active", true, "error: trap");
    expect(machine.rolledBack(SHIPPED)).toBe(false);
    expect(rollbacks).toEqual([]);
    // probationMs 0: no previous is held on activation.
    await machine.apply(viewOf(changes.activate(changes.activate(empty(), "1.0.0", ctx), "1.1.0", ctx)));
    expect(machine.previous).toBeUndefined();
  });

  it("share rule: past rollbackErrorRate over rollbackMinCalls after probation", async () => {
    const { machine, rollbacks } = rollout({ guard: { probationCalls: 0, probationMs: 0 } });
    await machine.apply(viewOf(changes.canary(changes.activate(empty(), "1.0.0", ctx), "1.1.0", 50, ctx)));
    const canary = machine.canary!;
    machine.record(canary, "canary", false);
    machine.record(canary, "canary", false);
    machine.record(canary, "canary", true, "output out of range");
    expect(rollbacks[0]?.reason).toMatch(/^output: canary 1\.1\.0/);
    expect(machine.canaryFor("any")).toBeUndefined();
  });

  it("applies views one at a time, in order; none after close, which stops every slot", async () => {
    const { machine, log } = rollout();
    const v1 = changes.activate(empty(), "1.0.0", ctx);
    const v2 = changes.shadow(v1, "1.1.0", ctx);
    const first = machine.apply(viewOf(v1));
    const second = machine.apply(viewOf(v2));
    await Promise.all([first, second]);
    expect(log).toEqual(["start active 1.0.0", "stop active builtin", "start shadow 1.1.0"]);
    await machine.close();
    expect(log.slice(-2)).toEqual(["stop active 1.0.0", "stop shadow 1.1.0"]);
    await machine.apply(viewOf(changes.activate(v2, "2.0.0", ctx)));
    expect(machine.active.version).toBe("1.0.0");
  });
});
