import { describe, expect, it } from "vitest";
import { EventTokens, newEventTokenKey, parseEventTokenKeys, withEventToken } from "./event-token.ts";

const T0 = 1_780_000_000_000;
const keyA = parseEventTokenKeys(newEventTokenKey("a"))[0]!;
const keyB = parseEventTokenKeys(newEventTokenKey("b"))[0]!;

describe("event tokens", () => {
  it("verify what they signed, bound to the decision and the creative", () => {
    const tokens = new EventTokens([keyA], 60_000, () => T0);
    const token = tokens.sign("d-1", "cr-1");
    expect(token).toMatch(/^a\.\d+\.[A-Za-z0-9_-]{22}$/);
    expect(tokens.verify(token, "d-1", "cr-1")).toMatchObject({ ok: true });
    expect(tokens.verify(token, "d-2", "cr-1")).toMatchObject({ ok: false, reason: "mismatch" });
    expect(tokens.verify(token, "d-1", "cr-2")).toMatchObject({ ok: false, reason: "mismatch" });
  });

  it("refuse missing, malformed, altered, unknown-key and expired tokens, naming the reason", () => {
    const tokens = new EventTokens([keyA], 60_000, () => T0);
    const token = tokens.sign("d-1", "cr-1");
    const [kid, expiry, mac] = token.split(".");
    expect(tokens.verify(undefined, "d-1", "cr-1")).toMatchObject({ ok: false, reason: "missing" });
    expect(tokens.verify("", "d-1", "cr-1")).toMatchObject({ ok: false, reason: "missing" });
    expect(tokens.verify("garbage", "d-1", "cr-1")).toMatchObject({ ok: false, reason: "malformed" });
    // A later expiry with the old mac: the mac covers the expiry.
    expect(tokens.verify(`${kid}.${Number(expiry) + 3600}.${mac}`, "d-1", "cr-1")).toMatchObject({
      ok: false,
      reason: "mismatch",
    });
    expect(tokens.verify(`zz.${expiry}.${mac}`, "d-1", "cr-1")).toMatchObject({ ok: false, reason: "unknown_key" });
    const forged = new EventTokens([{ id: "a", secret: keyB.secret }], 60_000, () => T0).sign("d-1", "cr-1");
    expect(tokens.verify(forged, "d-1", "cr-1")).toMatchObject({ ok: false, reason: "mismatch" });
    expect(tokens.verify(token, "d-1", "cr-1", T0 + 61_000)).toMatchObject({ ok: false, reason: "expired" });
  });

  it("name where the decision's receipt is stored, signed with the rest; tokens without it, or with a batch id of before, still verify", () => {
    const tokens = new EventTokens([keyA], 60_000, () => T0);
    tokens.receiptLocatorOf = (decisionId) =>
      decisionId === "d-batched" ? "Z33Iy7hUytn2aWjl-V1W9g" : decisionId === "d-logged" ? "s4711" : undefined;
    const logged = tokens.sign("d-logged", "cr-1");
    expect(logged).toMatch(/^a\.\d+\.[A-Za-z0-9_-]{22}\.s4711$/);
    expect(tokens.verify(logged, "d-logged", "cr-1")).toMatchObject({ ok: true, receiptLocator: "s4711" });
    const token = tokens.sign("d-batched", "cr-1");
    expect(token).toMatch(/^a\.\d+\.[A-Za-z0-9_-]{22}\.Z33Iy7hUytn2aWjl-V1W9g$/);
    expect(tokens.verify(token, "d-batched", "cr-1")).toMatchObject({
      ok: true,
      receiptLocator: "Z33Iy7hUytn2aWjl-V1W9g",
    });
    const [kid, expiry, mac] = token.split(".");
    // Another batch, or none, under the same mac: refused (the client cannot point the lookup elsewhere).
    expect(tokens.verify(`${kid}.${expiry}.${mac}.AAAAAAAAAAAAAAAAAAAAAA`, "d-batched", "cr-1")).toMatchObject({
      ok: false,
      reason: "mismatch",
    });
    expect(tokens.verify(`${kid}.${expiry}.${mac}`, "d-batched", "cr-1")).toMatchObject({
      ok: false,
      reason: "mismatch",
    });
    expect(tokens.verify(`${token}.x`, "d-batched", "cr-1")).toMatchObject({ ok: false, reason: "malformed" });
    expect(tokens.verify(`${kid}.${expiry}.${mac}.no/slash`, "d-batched", "cr-1")).toMatchObject({
      ok: false,
      reason: "malformed",
    });
    const plain = tokens.sign("d-alone", "cr-1");
    expect(plain.split(".")).toHaveLength(3);
    expect(tokens.verify(plain, "d-alone", "cr-1")).toEqual({ ok: true, expiresAtMs: expect.any(Number) });
  });

  it("rotate: a new signing key while the old one still verifies", () => {
    const before = new EventTokens([keyA], 60_000, () => T0);
    const after = new EventTokens([keyB, keyA], 60_000, () => T0);
    const old = before.sign("d", "c");
    expect(after.verify(old, "d", "c").ok).toBe(true);
    expect(after.sign("d", "c").startsWith("b.")).toBe(true);
    expect(before.verify(after.sign("d", "c"), "d", "c")).toMatchObject({ ok: false, reason: "unknown_key" });
  });

  it("refuse short secrets and bad key ids; tracking URLs get the token in their query", () => {
    expect(() => new EventTokens([{ id: "a", secret: Buffer.alloc(8) }], 1000)).toThrow(/32 bytes/);
    expect(() => new EventTokens([{ id: "a.b", secret: keyA.secret }], 1000)).toThrow(/letters/);
    expect(withEventToken("https://t.example/i", "a.1.x")).toBe("https://t.example/i?chorus_et=a.1.x");
    expect(withEventToken("https://t.example/i?x=1#f", "a.1.x")).toBe("https://t.example/i?x=1&chorus_et=a.1.x#f");
  });
});
