import { fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import { createLatencyHistogram } from "../lib/latency-histogram.ts";
import type { StepResult } from "../lib/load-client-handle.ts";
import { bodyTemplates, pooledValue, writeCounters } from "../lib/numbered-bodies.ts";
import { decideRequests } from "../mesh/decide-requests.ts";
import { decideMinute, rawDecideTarget, rawListener } from "./raw-decide-load.ts";

describe("soak raw decide load", () => {
  it("soak raw decide load - request n: its own id, and user and session of the same listener from the pool", () => {
    const pool = decideRequests(8, 16).bodies.map((b) => {
      const r = fromBinary(DecideRequestSchema, Buffer.from(b, "base64"));
      r.placement!.forceNow = true;
      return r;
    });
    const target = rawDecideTarget(pool, 1_000, { url: "http://x", apiKey: "k", sessions: 4, timeoutMs: 2_000 });
    const fields = target.fields!;
    const templates = bodyTemplates(target.bodies, fields, false);
    const request = (n: number) => {
      const t = templates[n % templates.length]!;
      const out = Buffer.from(t.framed);
      writeCounters(out, 0, t, fields, n);
      return fromBinary(DecideRequestSchema, out);
    };
    for (const n of [0, 1, 7, 12_345]) {
      const r = request(n);
      const listener = String(pooledValue(n, 1_000)).padStart(3, "0");
      expect(r.requestId).toBe(`soak-raw-req-${String(n).padStart(12, "0")}`);
      expect(r.user!.userId).toBe(`soak-user-${listener}`);
      expect(r.context!.sessionId).toBe(`soak-session-${listener}`);
      expect(r.placement!.forceNow).toBe(true);
      // The soak's playback signal for arrival n names the same listener.
      expect(rawListener(n, 1_000)).toEqual({ userId: r.user!.userId, sessionId: r.context!.sessionId });
      expect(r.context!.genre).toBe(pool[n % pool.length]!.context!.genre);
    }
  });

  it("soak raw decide load - failure reasons named as connect-node names gRPC codes", () => {
    const h = createLatencyHistogram;
    const result: StepResult = {
      issued: 10,
      completed: 4,
      errors: 6,
      elapsedMs: 60_000,
      latency: h(),
      sendLag: h(),
      refusals: h(),
      errorSamples: [],
      sold: 3,
      ads: 5,
      timeouts: 1,
      errorCounts: { "grpc-status 8": 2, "grpc-status 14": 1, "reset 7": 1, timeout: 1, "goaway 0": 1 },
    };
    const m = decideMinute(result);
    expect(m.errorCodes).toEqual({ ResourceExhausted: 2, Unavailable: 2, DeadlineExceeded: 1, "goaway 0": 1 });
    expect(m.errorExamples.Unavailable).toBe("grpc-status 14");
    expect(m).toMatchObject({ answered: 4, filled: 3, errors: 6, timeouts: 1 });
  });
});
