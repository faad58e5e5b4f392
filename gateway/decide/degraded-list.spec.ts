import { describe, expect, it } from "vitest";
import { DegradedReason, Fallback } from "../../gen/chorus/v1/decision_pb.ts";
import { degradedList } from "./degraded-list.ts";

describe("degraded list", () => {
  it("one entry per agent in report order, the first report winning, each with its weight", () => {
    const list = degradedList(
      [
        { agent: "timing", reason: DegradedReason.TIMEOUT, fallback: Fallback.LAST_SIGNAL },
        { agent: "relevance", reason: DegradedReason.ERROR, fallback: Fallback.LAST_SIGNAL },
        // A scorer failure of an agent the gatherer already reported: the gatherer's report stands.
        { agent: "timing", reason: DegradedReason.ERROR, fallback: Fallback.LAST_SIGNAL },
        { agent: "kernel", reason: DegradedReason.ERROR, fallback: Fallback.UNSPECIFIED },
      ],
      (agent) => ({ timing: 0.5, relevance: 0.25 })[agent] ?? 0,
    );
    expect(list.map((d) => [d.agent, d.reason, d.fallback, d.weight])).toEqual([
      ["timing", DegradedReason.TIMEOUT, Fallback.LAST_SIGNAL, 0.5],
      ["relevance", DegradedReason.ERROR, Fallback.LAST_SIGNAL, 0.25],
      ["kernel", DegradedReason.ERROR, Fallback.UNSPECIFIED, 0],
    ]);
  });
});
