/** Every module kind this host can verify, by module name: the kernel and `agent-<name>` per scoring agent. */

import { kernelModuleKind } from "../../modules/kernel-module-kind.ts";
import type { ModuleKind } from "../../modules/module-kind.ts";
import { agentModuleKinds } from "./agent-module-kind.ts";

export function moduleKinds(): Record<string, ModuleKind> {
  return { kernel: kernelModuleKind, ...agentModuleKinds() };
}
