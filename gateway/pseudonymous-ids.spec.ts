import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DecideRequestSchema } from "../gen/chorus/v1/decision_pb.ts";
import { rememberWireBytes, wireBytesOf } from "../lib/codecs/wire/wire-bytes.ts";
import { Pseudonyms } from "../lib/privacy/pseudonyms.ts";
import { pseudonymizeRequest } from "./services/pseudonymous-ids.ts";
import { decideRequest } from "./testing/sample-requests.ts";

const pseudonyms = new Pseudonyms("spec-key-spec-key");

describe("pseudonymous ids", () => {
  it("pseudonyms - keyed, stable, distinct per key and per kind of id", () => {
    expect(pseudonyms.user("u1")).toBe(pseudonyms.user("u1"));
    expect(pseudonyms.user("u1")).not.toBe(new Pseudonyms("another-key-another").user("u1"));
    expect(pseudonyms.user("same")).not.toBe(pseudonyms.session("same"));
    expect(pseudonyms.user("u1")).toMatch(/^p[A-Za-z0-9_-]{22}$/);
    expect(() => new Pseudonyms("short")).toThrow(/16 bytes/);
  });

  it("pseudonyms - the same values as before they were remembered (HMAC of domain, NUL, id), also after eviction", () => {
    // Values computed with the former code: stored profiles and caps are keyed by them.
    const fresh = new Pseudonyms("spec-key-spec-key");
    const expected = () => {
      expect(fresh.user("u1")).toBe("pNZOvzZN9fvxjlI7-w_pQ83");
      expect(fresh.session("s-é🎧")).toBe("piWgRpStH3sFBixV84eVCq5");
      expect(fresh.listener("u1", "s1", false)).toBe("pDvC5uLIntgxmxnRZNGnZgk");
      expect(fresh.listener("u1", "s1", true)).toBe("pNZOvzZN9fvxjlI7-w_pQ83");
    };
    expected();
    expected(); // remembered
    for (let i = 0; i < 20_000; i++) fresh.user(`filler-${i}`); // more than it remembers
    expected();
  });

  it("pseudonyms - a request's ids and its wire bytes are replaced alike; other fields keep their bytes", () => {
    const request = decideRequest("wire");
    request.user!.consent = { $typeName: "chorus.v1.Consent", personalizedAds: true, measurement: true };
    const bytes = toBinary(DecideRequestSchema, request);
    const decoded = fromBinary(DecideRequestSchema, bytes);
    rememberWireBytes(decoded, bytes);
    pseudonymizeRequest(decoded, pseudonyms);
    expect(decoded.user!.userId).toBe(pseudonyms.user(request.user!.userId));
    expect(decoded.context!.sessionId).toBe(pseudonyms.session(request.context!.sessionId));
    const rewritten = wireBytesOf(decoded)!;
    expect(Buffer.from(rewritten).includes(Buffer.from(request.user!.userId))).toBe(false);
    expect(fromBinary(DecideRequestSchema, rewritten)).toEqual(decoded);
  });

  it("pseudonyms - the bytes are patched right for split sub-messages, empty ids and unknown fields", () => {
    const pieces = (request: ReturnType<typeof decideRequest>) => {
      // The user sent in two occurrences (a decoder merges them), an unknown field inside the context.
      const { user, ...rest } = request;
      const first = toBinary(DecideRequestSchema, create(DecideRequestSchema, { user: { userId: "stale-id" } }));
      const second = toBinary(DecideRequestSchema, create(DecideRequestSchema, { ...rest, user }));
      const unknown = Uint8Array.of(0x2a, 0x03, 0xf8, 0x06, 0x01); // context { field 111 (varint) = 1 }
      return new Uint8Array(Buffer.concat([first, second, unknown]));
    };
    for (const [userId, sessionId, measurement] of [
      ["user-1", "session-1", true],
      ["", "session-1", true],
      ["user-1", "", false],
      ["", "", true],
    ] as const) {
      const request = decideRequest("split");
      request.user!.userId = userId;
      request.context!.sessionId = sessionId;
      request.user!.consent = { $typeName: "chorus.v1.Consent", personalizedAds: true, measurement };
      const bytes = pieces(request);
      const decoded = fromBinary(DecideRequestSchema, bytes);
      rememberWireBytes(decoded, bytes);
      pseudonymizeRequest(decoded, pseudonyms);
      const rewritten = wireBytesOf(decoded)!;
      expect(fromBinary(DecideRequestSchema, rewritten)).toEqual(decoded);
      expect(Buffer.from(rewritten).includes(Buffer.from("stale-id"))).toBe(false);
      if (userId) expect(Buffer.from(rewritten).includes(Buffer.from(userId))).toBe(false);
      if (sessionId) expect(Buffer.from(rewritten).includes(Buffer.from(sessionId))).toBe(false);
    }
  });

  it("consent - without measurement the user is known by the session's pseudonym only", () => {
    const a = decideRequest("a");
    a.user!.consent = create(DecideRequestSchema).user?.consent; // none given: no measurement
    const b = decideRequest("b");
    b.context!.sessionId = "another-session";
    pseudonymizeRequest(a, pseudonyms);
    pseudonymizeRequest(b, pseudonyms);
    expect(a.user!.userId).not.toBe(pseudonyms.user(decideRequest("x").user!.userId));
    expect(a.user!.userId).not.toBe(b.user!.userId); // same user, two sessions: nothing links them
  });
});
