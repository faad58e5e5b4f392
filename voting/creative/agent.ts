import { CreativeSignalSchema } from "../../gen/chorus/v1/agent_signals_pb.ts";
import { parsers } from "../../lib/config/config.ts";
import type { AgentModule } from "../contract/agent-module.ts";
import {
  type CreativeState,
  createCreativeState,
  DEFAULT_BLOCKED_CATEGORIES,
  restoreCreative,
  snapshotCreative,
} from "./state.ts";
import { voteCreative } from "./vote.ts";

/** Creative: format per candidate for the device and moment, and creative policy with a reason per rejection. */
export const creativeAgent: AgentModule<CreativeState, typeof CreativeSignalSchema> = {
  name: "creative",
  version: "1.0.0",
  description: "Format per device and moment; creative policy (categories, explicit content, duration, defects)",
  keySpace: "global",
  signalSchema: CreativeSignalSchema,
  // CREATIVE_BLOCKED_CATEGORIES (comma-separated IAB categories) replaces the default list.
  createState: () =>
    createCreativeState(
      process.env.CREATIVE_BLOCKED_CATEGORIES === undefined
        ? DEFAULT_BLOCKED_CATEGORIES
        : parsers.list(process.env.CREATIVE_BLOCKED_CATEGORIES),
    ),
  snapshot: snapshotCreative,
  restore: restoreCreative,
  vote: voteCreative,
  inputs: [],
};
