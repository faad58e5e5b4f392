import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ModuleStateChange_Action as Action, ModuleStateSchema } from "../gen/chorus/v1/module_pb.ts";
import { activate, canary, ModuleStateError, rollback, rollbackVersion, shadow } from "./module-state-changes.ts";

const by = { actor: "test" };
const empty = create(ModuleStateSchema, { module: "kernel" });

describe("module state changes", () => {
  it("module state - activation keeps the previous version and takes the new one out of canary", () => {
    const one = activate(empty, "1.0.0", by);
    const canaried = canary(one, "1.1.0", 10, by);
    const two = activate(canaried, "1.1.0", by);
    expect(two).toMatchObject({
      activeVersion: "1.1.0",
      previousVersion: "1.0.0",
      canaryVersion: "",
      canaryPercent: 0,
    });
    expect(two.revision).toBe(3n);
    expect(two.history.map((h) => h.action)).toEqual([Action.ACTIVATE, Action.CANARY, Action.ACTIVATE]);
  });

  it("module state - rollback ends a canary and shadow first, then returns to the previous version once", () => {
    const two = activate(activate(empty, "1.0.0", by), "1.1.0", by);
    const trial = shadow(canary(two, "1.2.0", 5, by), "1.3.0", by);
    const calm = rollback(trial, by);
    expect(calm).toMatchObject({ activeVersion: "1.1.0", canaryVersion: "", shadowVersion: "" });
    const back = rollback(calm, by);
    expect(back).toMatchObject({ activeVersion: "1.0.0", previousVersion: "" });
    expect(() => rollback(back, by)).toThrow(ModuleStateError);
  });

  it("module state - automatic rollback only touches the version it names", () => {
    const state = canary(activate(activate(empty, "1.0.0", by), "1.1.0", by), "1.2.0", 20, by);
    expect(rollbackVersion(state, "9.9.9", by)).toBeUndefined();
    const noCanary = rollbackVersion(state, "1.2.0", { actor: "gw", reason: "error rate" })!;
    expect(noCanary).toMatchObject({ activeVersion: "1.1.0", canaryVersion: "", canaryPercent: 0 });
    expect(noCanary.history.at(-1)).toMatchObject({
      action: Action.AUTO_ROLLBACK,
      version: "1.2.0",
      reason: "error rate",
    });
    const reverted = rollbackVersion(noCanary, "1.1.0", by)!;
    expect(reverted).toMatchObject({ activeVersion: "1.0.0", previousVersion: "" });
    // No previous version: back to the build shipped with each process.
    expect(rollbackVersion(reverted, "1.0.0", by)).toMatchObject({ activeVersion: "", previousVersion: "" });
  });

  it("module state - refuses a canary of the active version, a bad percent and a canary before any activation", () => {
    const one = activate(empty, "1.0.0", by);
    expect(() => canary(one, "1.0.0", 10, by)).toThrow(/active version/);
    expect(() => canary(one, "1.1.0", 101, by)).toThrow(/0 to 100/);
    expect(() => canary(empty, "1.1.0", 10, by)).toThrow(/no active version/);
    expect(() => activate(one, "1.0.0", by)).toThrow(/already active/);
  });
});
