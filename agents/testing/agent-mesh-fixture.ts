import { CatalogStore, openCatalogBucket } from "../../lib/catalog/catalog-store.ts";
import { CatalogView } from "../../lib/catalog/catalog-view.ts";
import { demoCatalog, loadDemoCatalog } from "../../lib/demo/demo-catalog.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { AGENTS } from "../../lib/subjects.ts";
import { type NatsFixture, startNats } from "../../lib/testing/nats-fixture.ts";
import { loadAgents } from "../../voting/registry/agent-loaders.ts";
import { KernelPool, readKernelWasm } from "../../wasm-core/src/mod.ts";
import { type RunningAgent, runAgent } from "../runtime/run-agent.ts";

/** What an engine test needs: a real nats-server with the demo catalog, every agent running, an inline kernel. */
export interface AgentMeshFixture {
  nats: NatsFixture;
  view: CatalogView;
  kernel: KernelPool;
  agents: RunningAgent[];
  cleanup(): Promise<void>;
}

export async function startAgentMesh(options: {
  logger: Logger;
  kernelVersion: string;
  /** Demo catalog size: 12 creatives per advertiser (default 12 advertisers). */
  advertisers?: number;
}): Promise<AgentMeshFixture> {
  const nats = await startNats();
  const kv = await openCatalogBucket(nats.js);
  await loadDemoCatalog(new CatalogStore(kv), demoCatalog({ advertisers: options.advertisers ?? 12 }), {
    concurrency: 128,
  });
  const view = await CatalogView.open(kv);
  const kernel = new KernelPool({
    mode: "inline",
    moduleBytes: readKernelWasm("simd"),
    moduleVersion: options.kernelVersion,
  });
  await kernel.ready();
  const modules = await loadAgents(AGENTS);
  // The agents share one connection of their own, as an agent host does.
  const agentNc = await nats.connect("agents");
  const agents = await Promise.all(
    modules.map((module) => runAgent(module, { nc: agentNc, catalog: view, logger: options.logger })),
  );
  return {
    nats,
    view,
    kernel,
    agents,
    async cleanup() {
      await Promise.all(agents.map((a) => a.stop()));
      view.close();
      await kernel.close();
      await nats.cleanup();
    },
  };
}
