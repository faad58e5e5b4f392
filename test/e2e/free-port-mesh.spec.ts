import { afterAll, describe, expect, it } from "vitest";
import type { Mesh } from "../../launch/mesh.ts";
import { holdPort, portsWithTaken } from "../../lib/testing/held-port.ts";
import { startMeshOnFreePorts } from "./free-port-mesh.ts";

describe("startMeshOnFreePorts - a free port taken before the gateway binds it", () => {
  let mesh: Mesh | undefined;
  afterAll(() => mesh?.stop(), 30_000);

  it("starts the mesh again on a new port, and the gateway serves there", async () => {
    const held = await holdPort();
    try {
      const ports = portsWithTaken(held.port, 1);
      const asked: number[] = [];
      mesh = await startMeshOnFreePorts(async (port) => {
        const gatewayPort = await port();
        asked.push(gatewayPort);
        return {
          gatewayPort,
          silent: true,
          agentGroups: [["intent", "relevance", "timing", "bidding", "creative", "orchestrator"]],
        };
      }, ports.next);
      expect(asked).toHaveLength(2);
      expect(asked[0]).toBe(held.port);
      expect(new URL(mesh.gatewayUrl).port).toBe(String(asked[1]));
      // Served by this mesh's gateway: a tracking pixel for an unknown decision is refused with a 4xx.
      const pixel = await fetch(`${mesh.gatewayUrl}/t/impression/no-such-decision/cr-0-0-0?ts=x`);
      expect(pixel.status).toBeGreaterThanOrEqual(400);
      expect(pixel.status).toBeLessThan(500);
    } finally {
      await held.release();
    }
  }, 120_000);
});
