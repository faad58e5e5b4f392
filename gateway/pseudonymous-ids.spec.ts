import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecideRequestSchema } from "../gen/chorus/v1/decision_pb.ts";
import { rememberWireBytes, wireBytesOf } from "../lib/codecs/wire/wire-bytes.ts";
import { Pseudonyms } from "../lib/privacy/pseudonyms.ts";
import { pseudonymizeRequest, rewrittenIds, splicedIds, withIds } from "./services/pseudonymous-ids.ts";
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

  it("pseudonyms - the splice gives the general rewrite's bytes, and takes the usual layout itself", () => {
    const text = fc.oneof(fc.constant(""), fc.string({ maxLength: 40 }), fc.string({ unit: "binary", maxLength: 200 }));
    const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
    // Odd layouts a client may send: a sub-message in two occurrences, its id twice, an unknown field (varint, fixed,
    // length-delimited) inside it or beside it.
    const layout = fc.constantFrom(
      "plain",
      "split-user",
      "split-context",
      "id-twice",
      "unknown-inside",
      "unknown-beside",
    );
    const arbitrary = fc.record({
      userId: maybe(text),
      sessionId: maybe(text),
      country: text,
      genre: text,
      requestId: text,
      layout,
      newUser: text,
      newSession: text,
    });
    fc.assert(
      fc.property(arbitrary, (g) => {
        const request = create(DecideRequestSchema, {
          requestId: g.requestId,
          placement: { maxAds: 2, maxDurationMs: 30_000 },
          user: g.userId === undefined ? undefined : { userId: g.userId, geo: { country: g.country } },
          device: { os: "ios" },
          context: g.sessionId === undefined ? undefined : { sessionId: g.sessionId, genre: g.genre },
        });
        const plain = toBinary(DecideRequestSchema, request);
        const sub = (field: number, payload: Uint8Array) => Uint8Array.from([...lengthDelimitedField(field, payload)]);
        let bytes: Uint8Array = plain;
        if (g.layout === "split-user") bytes = concat(plain, sub(3, sub(1, Buffer.from("stale"))));
        if (g.layout === "split-context") bytes = concat(sub(5, sub(4, Buffer.from("rock"))), plain);
        if (g.layout === "id-twice" && g.userId !== undefined)
          bytes = concat(
            plain,
            sub(3, concat(sub(1, Buffer.from("a")), sub(15, Buffer.from("x")), sub(1, Buffer.from("b")))),
          );
        if (g.layout === "unknown-inside" && g.sessionId !== undefined)
          bytes = concat(plain, sub(5, Uint8Array.of(0xf8, 0x06, 0x01, 0x85, 0x07, 1, 2, 3, 4)));
        if (g.layout === "unknown-beside")
          bytes = concat(plain, Uint8Array.of(0xf8, 0x06, 0x96, 0x01), sub(200, Buffer.from("z")));
        const decoded = fromBinary(DecideRequestSchema, bytes);
        const userId = decoded.user ? g.newUser : undefined;
        const sessionId = decoded.context ? g.newSession : undefined;
        const general = rewrittenIds(bytes, userId, sessionId);
        expect(Buffer.from(withIds(bytes, userId, sessionId)).equals(Buffer.from(general))).toBe(true);
        const spliced = splicedIds(bytes, userId, sessionId);
        if (spliced) expect(Buffer.from(spliced).equals(Buffer.from(general))).toBe(true);
        // What every encoder writes is spliced, not left to the general rewrite.
        if (bytes === plain) expect(spliced).toBeDefined();
        const again = fromBinary(DecideRequestSchema, general);
        if (userId !== undefined) expect(again.user!.userId).toBe(Buffer.from(userId).toString());
        if (sessionId !== undefined) expect(again.context!.sessionId).toBe(Buffer.from(sessionId).toString());
      }),
      { numRuns: 3_000 },
    );
  });
});

function lengthDelimitedField(field: number, payload: Uint8Array): Uint8Array {
  const varint = (n: number) => {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return out;
  };
  return Uint8Array.from([...varint((field << 3) | 2), ...varint(payload.length), ...payload]);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}
