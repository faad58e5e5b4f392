import cluster from "node:cluster";
import { loadConfig } from "../lib/config/config.ts";
import { metricsConfigSchema } from "../telemetry/metrics.ts";
import { gatewayConfig } from "./gateway-config.ts";

/**
 * The gateway: NATS_URL=nats://127.0.0.1:4222 node dist/gateway/main.js
 * One gateway process (serve-gateway.ts), or with GATEWAY_PROCESSES=n a primary running n of them on one port.
 */
const { processes, gatewayId, metricsPort } = loadConfig({
  processes: gatewayConfig.processes,
  gatewayId: gatewayConfig.gatewayId,
  metricsPort: metricsConfigSchema.port,
});
if (processes > 1 && cluster.isPrimary) {
  const { runGatewayCluster } = await import("./gateway-cluster.ts");
  runGatewayCluster({ processes, gatewayId, metricsPort });
} else {
  await import("./serve-gateway.ts");
}
