import { spawnSync } from "node:child_process";
import { NatsServerNotInstalledError, NatsServerProcess } from "../lib/nats/nats-server-process.ts";

/**
 * The embedded default needs a nats-server binary. When it is missing and we are root on a Debian-like machine,
 * install Debian's package; otherwise stop with a message naming the package and the NATS_URL alternative.
 */
export function ensureNatsServer(log: (line: string) => void = console.log): void {
  if (NatsServerProcess.isInstalled()) return;
  const canApt = process.getuid?.() === 0 && spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status === 0;
  if (!canApt) throw new NatsServerNotInstalledError(process.env.NATS_SERVER_BIN ?? "nats-server");
  log("nats-server is not installed: installing Debian's package nats-server (apt-get) ...");
  for (const args of [
    ["update", "-qq"],
    ["install", "-y", "-qq", "nats-server"],
  ]) {
    const result = spawnSync("apt-get", args, {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (result.status !== 0) throw new NatsServerNotInstalledError("nats-server");
  }
}
