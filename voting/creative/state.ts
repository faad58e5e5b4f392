import { create } from "@bufbuild/protobuf";
import { type CreativeSignal, CreativeSignalSchema } from "../../gen/chorus/v1/agent_signals_pb.ts";

/** The policy in force. Categories: IAB25 (non-standard content) and IAB26 (illegal content) by default. */
export interface CreativeState {
  blockedCategories: Set<string>;
}

export const DEFAULT_BLOCKED_CATEGORIES = ["IAB25", "IAB26"];

export function createCreativeState(blocked: readonly string[] = DEFAULT_BLOCKED_CATEGORIES): CreativeState {
  return { blockedCategories: new Set(blocked) };
}

export function snapshotCreative(state: CreativeState): CreativeSignal {
  return create(CreativeSignalSchema, { blockedCategories: [...state.blockedCategories].sort() });
}

export function restoreCreative(state: CreativeState, _key: string, signal: CreativeSignal): void {
  state.blockedCategories = new Set(signal.blockedCategories);
}
