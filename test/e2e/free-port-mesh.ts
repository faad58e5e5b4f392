import { type Mesh, type MeshOptions, startMesh } from "../../launch/mesh.ts";
import { freePort, isAddressInUse } from "../../lib/nats/nats-server-process.ts";

/**
 * startMesh on ports from freePort(). A port that was free when asked can be bound by a concurrent test before the
 * child binds it (CI met "gateway exited before it was ready ... EADDRINUSE"), so a start that fails that way is
 * tried again on new ports, up to 3 times; `options` is asked again for each attempt.
 */
export async function startMeshOnFreePorts(
  options: (port: () => Promise<number>) => MeshOptions | Promise<MeshOptions>,
  port: () => Promise<number> = freePort,
): Promise<Mesh> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startMesh(await options(port));
    } catch (err) {
      if (attempt >= 3 || !isAddressInUse(err)) throw err;
    }
  }
}
