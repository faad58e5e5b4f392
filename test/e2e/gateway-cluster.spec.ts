import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withApiKey } from "../../gateway/auth/client-key.ts";
import { AdFormat, BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import { DecideRequestSchema, DecisionService } from "../../gen/chorus/v1/decision_pb.ts";
import type { Mesh } from "../../launch/mesh.ts";
import { ReceiptStore } from "../../ledger/receipt-store.ts";
import { permissionViolations } from "../../lib/nats/server-log.ts";
import { startMeshOnFreePorts } from "./free-port-mesh.ts";

const request = (id: string) =>
  create(DecideRequestSchema, {
    requestId: id,
    placement: { breakKind: BreakKind.PRE_ROLL, maxDurationMs: 60_000, maxAds: 3, allowedFormats: [AdFormat.AUDIO] },
    user: { userId: `cluster-${id}`, consent: { personalizedAds: true, measurement: true }, geo: { country: "DE" } },
    device: { type: DeviceType.PHONE, screenOn: false, foreground: false, touch: true },
    context: { sessionId: `s-${id}`, contentKind: ContentKind.MUSIC, genre: "rock", contentDurationMs: 180_000 },
  });

/** The gateway primary's worker processes (node:cluster forks them as its children). */
function workerPids(primary: number): number[] {
  return readFileSync(`/proc/${primary}/task/${primary}/children`, "utf8").split(" ").filter(Boolean).map(Number);
}

describe("gateway - GATEWAY_PROCESSES: several gateway processes on one port", () => {
  let mesh: Mesh;
  let primary: number;
  beforeAll(async () => {
    mesh = await startMeshOnFreePorts(async (port) => ({
      gatewayPort: await port(),
      silent: true,
      demo: true,
      env: { GATEWAY_PROCESSES: "2" },
    }));
    primary = mesh.processes.find((p) => p.name === "gateway")!.pid;
  }, 90_000);
  afterAll(() => mesh?.stop(), 30_000);

  /**
   * Decides once on each of `connections` fresh HTTP/2 connections; returns the gateway id of each decision's
   * receipt, or "no ads" (a process that has just started may not hold every campaign's lease yet).
   */
  async function decideOnConnections(connections: number, tag: string): Promise<string[]> {
    const nc = await mesh.connect("e2e-cluster");
    try {
      const receipts = await ReceiptStore.open(nc);
      const ids: string[] = [];
      for (let i = 0; i < connections; i++) {
        // A transport per call: a new connection, which the primary hands to the next process.
        const client = createClient(
          DecisionService,
          createGrpcTransport({ baseUrl: mesh.gatewayUrl, interceptors: [withApiKey(mesh.credentials.decideKey)] }),
        );
        const response = await client.decide(request(`${tag}-${i}`), { timeoutMs: 5_000 });
        expect(response.decisionId).not.toBe("");
        ids.push(
          response.ads.length === 0
            ? "no ads"
            : // The ad's event token names where the receipt is stored (its fourth part), as ReportEvents reads it.
              ((await receipts.get(response.decisionId, response.ads[0]!.eventToken.split(".")[3]))?.gatewayId ??
                "no receipt for a sold pod"),
        );
      }
      return ids;
    } finally {
      await nc.close();
    }
  }

  it("serves Decide from every process, each with its own gateway id in receipts", async () => {
    expect(workerPids(primary)).toHaveLength(2);
    const distinct = new Set(await decideOnConnections(8, "spread"));
    distinct.delete("no ads");
    expect(distinct.size).toBe(2);
    for (const id of distinct) expect(id).toMatch(/-[12]$/);
  }, 60_000);

  it("starts a process that dies again, and keeps serving meanwhile", async () => {
    const ids = [...new Set(await decideOnConnections(4, "before"))].filter((id) => id !== "no ads").sort();
    expect(ids).toHaveLength(2);
    const [victim] = workerPids(primary);
    process.kill(victim!, "SIGKILL");
    // Once the primary has seen the exit (milliseconds; a connection handed over in that instant is lost with the
    // process), the survivor serves every new connection while the primary starts a replacement.
    while (workerPids(primary).includes(victim!)) await new Promise((r) => setTimeout(r, 5));
    // Every call is answered (a failed one throws), and sold pods have receipts.
    expect(await decideOnConnections(4, "during")).not.toContain("no receipt for a sold pod");
    // The replacement (same gateway id) serves once it has opened NATS, its leases and its kernel.
    const seen = new Set<string>();
    const deadline = Date.now() + 45_000;
    while (seen.size < 2 && Date.now() < deadline)
      for (const id of await decideOnConnections(4, `after-${seen.size}`)) if (id !== "no ads") seen.add(id);
    expect([...seen].sort()).toEqual(ids);
    expect(workerPids(primary)).toHaveLength(2);
    expect(workerPids(primary)).not.toContain(victim);
  }, 90_000);
  it("ran with NATS permissions on: no process was refused anything", () => {
    expect(mesh.auth, "the mesh's private server requires credentials").toBeDefined();
    expect(permissionViolations(mesh.natsLogFile)).toEqual([]);
  });
});
