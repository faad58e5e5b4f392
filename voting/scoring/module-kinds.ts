/** Every module kind this host can verify, by module name: the kernel and `agent-<name>` per scoring agent. */
import { agentModuleKinds } from "./agent-module-kind.ts";
import { kernelModuleKind } from "./kernel-module-kind.ts";
import type { ModuleKind } from "./module-kind.ts";

export function moduleKinds(): Record<string, ModuleKind> {
  return { kernel: kernelModuleKind, ...agentModuleKinds() };
}
