import { create, equals, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DecideResponseSchema, PodAdSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { encodeResponse } from "../server/encode-response.ts";
import { IdempotentDecisions } from "./idempotent-decisions.ts";

const answer = (id: string, ads = 2) =>
  create(DecideResponseSchema, {
    decisionId: id,
    coordination: "cached",
    ads: Array.from({ length: ads }, (_, i) =>
      create(PodAdSchema, {
        creativeId: `cr-${i}`,
        campaignId: `c-${i}`,
        priceMicros: 1_000n,
        eventToken: "t".repeat(120),
      }),
    ),
  });

describe("request_id idempotency", () => {
  it("encodes a decision once: the wire response reuses the remembered bytes, toBinary's bytes", async () => {
    const ids = new IdempotentDecisions();
    const a = await ids.run("k", "r1", async () => answer("d-1"));
    const wire = encodeResponse(DecideResponseSchema, a);
    expect(encodeResponse(DecideResponseSchema, a)).toBe(wire); // the same bytes, not a second encoding
    expect(wire).toEqual(toBinary(DecideResponseSchema, a));
    expect(ids.heldBytes).toBe(wire.byteLength);
    // A replay from the memory sends the kept bytes too.
    const again = await ids.run("k", "r1", async () => answer("d-2"));
    expect(encodeResponse(DecideResponseSchema, again)).toBe(wire);
    // A copy (an explanation cut for the caller) is encoded afresh.
    const copy = { ...a, coordination: "parallel" };
    expect(encodeResponse(DecideResponseSchema, copy)).toEqual(toBinary(DecideResponseSchema, copy));
  });

  it("a repeated id gets the first decision back (while running and once answered, from its encoding); a failure is forgotten", async () => {
    let now = 0;
    const ids = new IdempotentDecisions({ clock: () => now });
    let calls = 0;
    const decide = async () => answer(`d-${++calls}`);
    const first = ids.run("k", "r1", decide);
    const whileRunning = ids.run("k", "r1", decide);
    expect(whileRunning).toBe(first);
    const a = await first;
    expect(ids.heldBytes).toBeGreaterThan(0);
    const again = await ids.run("k", "r1", decide);
    expect(again).not.toBe(a); // decoded from the kept bytes
    expect(equals(DecideResponseSchema, again, a)).toBe(true);
    expect(calls).toBe(1);
    // Another key with the same request id is another request.
    expect((await ids.run("other", "r1", decide)).decisionId).toBe("d-2");
    await expect(ids.run("k", "bad", async () => Promise.reject(new Error("no")))).rejects.toThrow("no");
    await new Promise((r) => setImmediate(r));
    expect((await ids.run("k", "bad", decide)).decisionId).toBe("d-3");
    // After the TTL the id decides again.
    now += 10 * 60_000;
    expect((await ids.run("k", "r1", decide)).decisionId).toBe("d-4");
  });

  it("holds at most maxBytes of answered decisions, the oldest forgotten first, and counts what it holds", async () => {
    const ids = new IdempotentDecisions({ maxBytes: 64 * 1024 });
    for (let i = 0; i < 5_000; i++) await ids.run("k", `r-${i}`, async () => answer(`d-${i}`));
    expect(ids.heldBytes).toBeLessThanOrEqual(64 * 1024);
    expect(ids.heldBytes).toBeGreaterThan(48 * 1024);
    expect(ids.size).toBeLessThan(5_000);
    // The newest is still remembered, the oldest not.
    let decided = 0;
    const decide = async () => answer(`new-${++decided}`);
    expect((await ids.run("k", "r-4999", decide)).decisionId).toBe("d-4999");
    expect((await ids.run("k", "r-0", decide)).decisionId).toBe("new-1");
  });
});
