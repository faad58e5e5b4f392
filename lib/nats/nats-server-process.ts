import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireServerVersion } from "./server-version.ts";

/**
 * A private nats-server child process with JetStream on: Chorus's embedded default when NATS_URL is unset,
 * and what every test starts for itself.
 *
 * States: idle -> starting -> running -> stopping -> stopped. `start()` resolves only once the server accepts
 * connections; `stop()` sends SIGTERM (nats-server flushes JetStream and exits) and escalates to SIGKILL after
 * a grace period so that no child outlives its parent.
 */
export type NatsServerState = "idle" | "starting" | "running" | "stopping" | "stopped";

export interface NatsServerOptions {
  /** Folder for JetStream files; a fresh folder under the OS temp dir when unset. */
  storeDir?: string;
  /** Client port; a free port when unset or 0. */
  port?: number;
  /** Path or name of the nats-server binary. */
  binary?: string;
  /** Extra command-line arguments. */
  args?: string[];
  /**
   * A configuration file (lib/nats/server-auth.ts: users and permissions). Command-line settings (address, port,
   * JetStream store) still win over it.
   */
  configFile?: string;
  /** Write the server's log here (permission violations are logged; tests read them). */
  logFile?: string;
  /** Print the server's log to this process's stderr. */
  inheritLogs?: boolean;
  /**
   * How long to wait for the client port (default 30 s): a restarted server recovers every stream from its store
   * before it listens, which takes more than 10 s on a loaded machine.
   */
  startTimeoutMs?: number;
  /** Where a free client port comes from when `port` is unset (default freePort(); tests inject a taken one). */
  freePort?: () => Promise<number>;
}

export class NatsServerNotInstalledError extends Error {
  override readonly name = "NatsServerNotInstalledError";
  constructor(binary: string) {
    super(
      `nats-server ("${binary}") was not found. Install Debian's package (apt-get install -y nats-server) ` +
        "or point Chorus at a running server with NATS_URL=nats://host:4222.",
    );
  }
}

export class NatsServerProcess {
  state: NatsServerState = "idle";
  port = 0;
  readonly storeDir: string;
  private child: ChildProcess | undefined;
  private readonly binary: string;
  private exited: Promise<void> = Promise.resolve();
  private exitHookInstalled = false;

  constructor(private readonly options: NatsServerOptions = {}) {
    this.binary = options.binary ?? process.env.NATS_SERVER_BIN ?? "nats-server";
    this.storeDir = options.storeDir ?? join(tmpdir(), `chorus-nats-${process.pid}-${Date.now()}`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** True when the binary can be executed. */
  static isInstalled(binary = process.env.NATS_SERVER_BIN ?? "nats-server"): boolean {
    return spawnSync(binary, ["--version"], { stdio: "ignore" }).status === 0;
  }

  /** The binary's version ("2.9.10"), from `nats-server --version`. */
  static version(binary = process.env.NATS_SERVER_BIN ?? "nats-server"): string | undefined {
    const out = spawnSync(binary, ["--version"], { encoding: "utf8" }).stdout ?? "";
    return /v?(\d+\.\d+\.\d+)/.exec(out)?.[1];
  }

  async start(): Promise<this> {
    if (this.state !== "idle" && this.state !== "stopped")
      throw new Error(`cannot start nats-server in state ${this.state}`);
    if (!NatsServerProcess.isInstalled(this.binary)) throw new NatsServerNotInstalledError(this.binary);
    requireServerVersion(NatsServerProcess.version(this.binary));
    // A free port is free when asked, but another process (a concurrent test) can bind it before nats-server
    // does; a start that fails on that is tried again on another port. A port the caller chose is not changed.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startOn(this.options.port || (await (this.options.freePort ?? freePort)()));
      } catch (err) {
        if (this.options.port || attempt >= 3 || !isAddressInUse(err)) throw err;
      }
    }
  }

  private async startOn(port: number): Promise<this> {
    this.state = "starting";
    this.port = port;
    mkdirSync(this.storeDir, { recursive: true });
    // nats-server writes <name>_<pid>.ports here once it listens. The folder is this start's own, so a ports file
    // in it is this server's (or a wrapper's child's): readiness is not fooled by whatever else answers on the port.
    const portsDir = mkdtempSync(join(tmpdir(), "chorus-nats-ports-"));
    const args = [
      "--ports_file_dir",
      portsDir,
      ...(this.options.configFile ? ["-c", this.options.configFile] : []),
      ...(this.options.logFile ? ["-l", this.options.logFile] : []),
      "-a",
      "127.0.0.1",
      "-p",
      String(this.port),
      "-js",
      "-sd",
      this.storeDir,
      ...(this.options.args ?? []),
    ];
    // Own process group: a Ctrl-C in the terminal reaches the Chorus processes, which still need the server to
    // persist their state as they stop; the server is stopped last, by stop().
    const child = spawn(this.binary, args, {
      stdio: ["ignore", "ignore", this.options.inheritLogs ? "inherit" : "pipe"],
      detached: true,
    });
    this.child = child;
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.once("exit", () => {
      this.state = "stopped";
    });
    try {
      await waitForListening(
        { dir: portsDir, port: this.port },
        this.options.startTimeoutMs ?? 30_000,
        () => this.state === "stopped",
      );
    } catch (err) {
      await this.stop();
      rmSync(portsDir, { recursive: true, force: true });
      const log =
        this.options.logFile && existsSync(this.options.logFile) ? readFileSync(this.options.logFile, "utf8") : "";
      throw new Error(
        `nats-server did not start on port ${this.port}: ${(err as Error).message}\n${stderr}${log.slice(-4000)}`,
      );
    }
    rmSync(portsDir, { recursive: true, force: true });
    this.state = "running";
    // A parent that exits without calling stop() must not leave the child behind (one listener per instance,
    // whatever the number of restarts).
    if (!this.exitHookInstalled) {
      this.exitHookInstalled = true;
      process.once("exit", () => this.child?.kill("SIGKILL"));
    }
    return this;
  }

  /** Kills the server without letting it flush (for fault tests), then waits for the exit. */
  async kill(): Promise<void> {
    if (!this.child || this.state === "stopped") return;
    this.child.kill("SIGKILL");
    await this.exited;
  }

  async stop(graceMs = 5_000): Promise<void> {
    const child = this.child;
    if (!child || this.state === "stopped") return;
    this.state = "stopping";
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** True when a server failed to start because one of its ports was taken (nats-server's own words). */
export function isAddressInUse(err: unknown): boolean {
  return /address already in use/i.test((err as Error)?.message ?? "");
}

/** Asks the kernel for a free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Waits for the server's ports file (written once it listens) to name `port`, then for the port to accept. */
async function waitForListening(
  want: { dir: string; port: number },
  timeoutMs: number,
  gaveUp: () => boolean,
): Promise<void> {
  const { connect } = await import("node:net");
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (gaveUp()) throw new Error("process exited");
    const listed = readdirSync(want.dir)
      .filter((f) => f.endsWith(".ports"))
      .flatMap((f) => listedClientPorts(join(want.dir, f)));
    const ok =
      listed.includes(want.port) &&
      (await new Promise<boolean>((resolve) => {
        const socket = connect(want.port, "127.0.0.1");
        socket.once("connect", () => {
          socket.destroy();
          resolve(true);
        });
        socket.once("error", () => resolve(false));
      }));
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms`);
}

/** The client ports in a ports file ({"nats": ["nats://127.0.0.1:4222"], ...}); none while it is being written. */
function listedClientPorts(file: string): number[] {
  try {
    const urls = (JSON.parse(readFileSync(file, "utf8")) as { nats?: string[] }).nats ?? [];
    return urls.map((u) => Number(new URL(u).port));
  } catch {
    return [];
  }
}
