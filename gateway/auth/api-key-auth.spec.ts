import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { type ApiKeyRecord, hashSecret, newApiKey } from "./api-key.ts";
import { ApiKeyAuth } from "./api-key-auth.ts";
import type { ApiKeyDirectory } from "./api-key-store.ts";

/** The directory's read side, as the KV watch keeps it: a change replaces the record and tells the listeners. */
function directory() {
  const records = new Map<string, ApiKeyRecord>();
  const listeners = new Set<(record: ApiKeyRecord | undefined, id: string) => void>();
  return {
    records,
    put(record: ApiKeyRecord) {
      records.set(record.id, record);
      for (const l of listeners) l(record, record.id);
    },
    view: {
      get: (id: string) => records.get(id),
      onChange: (l: (record: ApiKeyRecord | undefined, id: string) => void) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    } as unknown as ApiKeyDirectory,
  };
}

const unauthenticated = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof ConnectError && err.code === Code.Unauthenticated;
  }
  return false;
};

describe("api key authentication, verified keys remembered", () => {
  it("a verified key is answered again without rehashing, yet a wrong secret, rotation and revocation still fail", () => {
    const dir = directory();
    const { record, key } = newApiKey({ name: "app", role: "decide" });
    dir.put(record);
    const auth = new ApiKeyAuth(dir.view);
    const header = `Bearer ${key}`;
    const first = auth.authenticate(header);
    expect(first).toEqual({ keyId: record.id, name: "app", role: "decide" });
    expect(auth.authenticate(header)).toBe(first);
    // Same id, another secret (same length, one character off): rejected after the key was remembered.
    const [, id, secret] = key.split(".") as [string, string, string];
    const wrong = `${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}`;
    expect(unauthenticated(() => auth.authenticate(`Bearer ck.${id}.${wrong}`))).toBe(true);
    expect(auth.authenticate(header)).toBe(first);
    // Rotated in place (a directory that changes the record object itself): the old secret no longer works.
    const other = newApiKey({ name: "app", role: "decide" });
    record.secretHash = other.record.secretHash;
    expect(unauthenticated(() => auth.authenticate(header))).toBe(true);
    expect(auth.authenticate(`Bearer ck.${id}.${other.key.split(".")[2]}`).keyId).toBe(id);
    // Replaced by the watch with a revoked record.
    dir.put({ ...record, revokedAt: new Date().toISOString() });
    expect(unauthenticated(() => auth.authenticate(`Bearer ck.${id}.${other.key.split(".")[2]}`))).toBe(true);
    // A new record (role changed) is checked afresh and gives the new principal.
    dir.put({ ...record, revokedAt: undefined, role: "reader", secretHash: hashSecret(secret) });
    expect(auth.authenticate(header).role).toBe("reader");
  });

  it("remembers a bounded number of keys, and every one of them still authenticates", () => {
    const dir = directory();
    const auth = new ApiKeyAuth(dir.view);
    const keys = Array.from({ length: 1100 }, (_, i) => newApiKey({ name: `k${i}`, role: "decide" }));
    for (const k of keys) dir.put(k.record);
    for (const k of keys) expect(auth.authenticate(`Bearer ${k.key}`).name).toBe(k.record.name);
    for (const k of keys) expect(auth.authenticate(`Bearer ${k.key}`).name).toBe(k.record.name);
    expect((auth as unknown as { verified: Map<string, unknown> }).verified.size).toBeLessThanOrEqual(1024);
  });
});
