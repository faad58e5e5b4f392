/**
 * `chorus modules ...`: publish, inspect and roll out hot-swappable WASM modules (modules/). Every command that
 * gives a version a role verifies it first with the full pipeline; a refused version leaves the state as it
 * was, and the command exits non-zero saying why.
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { jetstream } from "@nats-io/jetstream";
import type { Command } from "commander";
import type { ModuleState } from "../../gen/chorus/v1/module_pb.ts";
import { ModuleStateChange_Action } from "../../gen/chorus/v1/module_pb.ts";
import { createLogger } from "../../lib/log/logger.ts";
import { connectNats } from "../../lib/nats/connect.ts";
import { defaultNatsUrl, toolNatsAccess } from "../../lib/nats/local-mesh.ts";
import { subjects } from "../../lib/subjects.ts";
import { KeyRevocations } from "../../modules/key-revocations.ts";
import { loadModuleConfig } from "../../modules/module-config.ts";
import { ModuleOperations } from "../../modules/module-operations.ts";
import { ModuleRegistry } from "../../modules/module-registry.ts";
import { ModuleRejectedError } from "../../modules/module-rejected-error.ts";
import { ModuleStateError } from "../../modules/module-state-changes.ts";
import { ModuleVerifier } from "../../modules/module-verifier.ts";
import { startRolloutSteward } from "../../modules/rollback-requests.ts";
import { generateSigningKey, parsePrivateKey } from "../../modules/signing-keys.ts";
import { withConnection } from "../../telemetry/one-shot-connection.ts";
import { moduleKinds } from "../../voting/registry/module-kinds.ts";
import { useLocalMeshTrustedKeys } from "../local-mesh.ts";

type Print = (line: string) => void;

interface CommonOptions {
  natsUrl: string;
  module: string;
}

const actor = () => `${userInfo().username}@${hostname()}`;

/** Runs `fn` with rollout operations over a fresh connection; a refusal names the unchanged state. */
async function withOperations<T>(options: CommonOptions, fn: (operations: ModuleOperations) => Promise<T>): Promise<T> {
  const kinds = moduleKinds();
  if (!kinds[options.module])
    throw new Error(`unknown module "${options.module}"; known: ${Object.keys(kinds).join(", ")}`);
  useLocalMeshTrustedKeys();
  const verifier = ModuleVerifier.fromConfig(loadModuleConfig(), kinds);
  return withConnection(options.natsUrl, async (nc) => {
    const registry = await ModuleRegistry.open(jetstream(nc));
    const revocations = await KeyRevocations.open(registry.states, createLogger("chorus-cli", "silent"));
    verifier.useRevocations(revocations);
    const operations = new ModuleOperations(registry, verifier, actor());
    try {
      return await fn(operations);
    } catch (err) {
      if (!(err instanceof ModuleRejectedError) && !(err instanceof ModuleStateError)) throw err;
      const state = await operations.state(options.module);
      throw new Error(`${err.message}\nnothing changed: ${describeState(state)}`, { cause: err });
    } finally {
      revocations.stop();
    }
  });
}

export function describeState(state: ModuleState): string {
  const parts = [`active ${state.activeVersion || "(built-in)"}`];
  if (state.canaryVersion) parts.push(`canary ${state.canaryVersion} at ${state.canaryPercent}%`);
  if (state.shadowVersion) parts.push(`shadow ${state.shadowVersion}`);
  if (state.previousVersion) parts.push(`previous ${state.previousVersion}`);
  return `${state.module}: ${parts.join(", ")}`;
}

/** Left-aligned columns with a header rule. */
export function formatTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

export async function runList(options: CommonOptions & { all?: boolean }, print: Print): Promise<void> {
  await withOperations(options, async (operations) => {
    const listings = await operations.list(options.all ? undefined : options.module);
    if (listings.length === 0) {
      print(`no ${options.all ? "" : `${options.module} `}modules published`);
      return;
    }
    const rows = listings.map(({ manifest, roles }) => [
      manifest.module,
      manifest.version,
      roles.join(", ") || "-",
      String(manifest.abiVersion),
      `${manifest.sha256.slice(0, 12)}…`,
      manifest.keyId,
      manifest.author,
      manifest.createdAt ? new Date(Number(manifest.createdAt.seconds) * 1000).toISOString().slice(0, 19) : "",
      manifest.notes.split("\n")[0]!.slice(0, 40),
    ]);
    for (const line of formatTable(
      ["MODULE", "VERSION", "ROLE", "ABI", "SHA256", "KEY", "AUTHOR", "CREATED (UTC)", "NOTES"],
      rows,
    ))
      print(line);
    const state = await operations.state(options.module);
    if (state.history.length > 0) {
      print("");
      print(`recent changes (${describeState(state)}):`);
      for (const change of state.history.slice(-5)) {
        const at = change.at ? new Date(Number(change.at.seconds) * 1000).toISOString().slice(0, 19) : "";
        const action = ModuleStateChange_Action[change.action].toLowerCase().replace("_", " ");
        const percent = change.action === ModuleStateChange_Action.CANARY ? ` ${change.percent}%` : "";
        print(
          `  ${at}  ${action} ${change.version || "-"}${percent} by ${change.actor}${change.reason ? `: ${change.reason}` : ""}`,
        );
      }
    }
  });
}

const percent = (rate: number) => `${(100 * rate).toFixed(1)}%`;

export async function runReport(options: CommonOptions, print: Print): Promise<void> {
  await withConnection(options.natsUrl, async (nc) => {
    const reports = await (await ModuleRegistry.open(jetstream(nc))).reports(options.module);
    if (reports.length === 0) {
      print(`no process has reported on ${options.module} yet`);
      return;
    }
    const now = Date.now();
    const rows = reports.map((r) => {
      const age = r.at ? `${Math.round((now - Number(r.at.seconds) * 1000) / 1000)}s` : "?";
      const active = r.active ? `${r.active.version} (${r.active.calls} calls)` : "-";
      const canary = r.canary
        ? `${r.canary.version} @${r.canaryPercent}%: ${r.canary.calls} calls, ${percent(r.canary.errorRate)} errors`
        : "-";
      // Agent scoring modules report score differences where the kernel reports pods and prices (micros).
      const agent = options.module !== "kernel";
      const shadow = r.shadow
        ? `${r.shadow.version}: ${r.shadow.compared} compared, ${percent(r.shadow.podDiffRate)} ${agent ? "other scores" : "other pods"}, ` +
          (agent
            ? `mean |Δscore| ${r.shadow.meanAbsPriceDeltaMicros.toFixed(4)}, max ${r.shadow.maxAbsPriceDeltaMicros.toFixed(4)}`
            : `mean |Δprice| ${r.shadow.meanAbsPriceDeltaMicros.toFixed(1)} µ`) +
          `, ${r.shadow.failures} failed, ${r.shadow.skipped} skipped`
        : "-";
      return [r.process, age, active, canary, shadow, r.rolledBack.join(", ") || "-", r.refused.join(", ") || "-"];
    });
    for (const line of formatTable(["PROCESS", "AGE", "ACTIVE", "CANARY", "SHADOW", "ROLLED BACK", "REFUSED"], rows))
      print(line);
  });
}

function parsePercent(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 100)
    throw new Error(`percent must be an integer from 0 to 100, got "${raw}"`);
  return n;
}

export function register(program: Command): void {
  const modules = program
    .command("modules")
    .description("hot-swappable WASM modules: publish, verify, activate, shadow, canary, roll back");
  const common = (command: Command) =>
    command
      .option(
        "--module <name>",
        `module: ${Object.keys(moduleKinds()).join(", ")} (agent-<name>: that agent's scoring module)`,
        "kernel",
      )
      .option("--nats-url <url>", "NATS server", defaultNatsUrl());

  modules
    .command("keygen")
    .description("create an ed25519 signing key pair (<out>.key is secret; add <out>.pub to CHORUS_TRUSTED_KEYS)")
    .option("--out <prefix>", "file prefix", "chorus-signing")
    .action((options: { out: string }) => {
      const pair = generateSigningKey();
      writeFileSync(`${options.out}.key`, pair.privateKeyPem, { mode: 0o600 });
      chmodSync(`${options.out}.key`, 0o600);
      writeFileSync(`${options.out}.pub`, pair.publicKeyPem);
      console.log(`key id ${pair.keyId}`);
      console.log(`private key: ${options.out}.key (keep secret; pass to chorus modules publish --key)`);
      console.log(`public key:  ${options.out}.pub (append to the file CHORUS_TRUSTED_KEYS names, on every host)`);
    });

  common(modules.command("publish"))
    .description("sign, verify and store a module version (refused versions are not stored)")
    .argument("<file>", ".wasm file")
    .requiredOption("--version <semver>", "version to publish, e.g. 1.2.0")
    .requiredOption("--key <file>", "ed25519 private key (PEM) from chorus modules keygen")
    .option("--notes <text>", "release notes", "")
    .option("--author <name>", "author", actor())
    .action(
      async (
        file: string,
        options: CommonOptions & { version: string; key: string; notes: string; author: string },
      ) => {
        const bytes = new Uint8Array(readFileSync(file));
        const privateKey = parsePrivateKey(readFileSync(options.key, "utf8"));
        await withOperations(options, async (operations) => {
          const manifest = await operations.publish(bytes, {
            module: options.module,
            version: options.version,
            abiVersion: moduleKinds()[options.module]?.abiVersion ?? 0,
            privateKey,
            author: options.author,
            notes: options.notes,
          });
          console.log(
            `published ${manifest.module} ${manifest.version} (${bytes.length} bytes, sha256 ${manifest.sha256})`,
          );
          console.log(
            `signed by key ${manifest.keyId}; all checks passed. Next: chorus modules shadow|canary|activate ${manifest.version}`,
          );
        });
      },
    );

  common(modules.command("cosign"))
    .description(
      "add your signature to a published version (N-of-M: CHORUS_MODULE_SIGNATURES_REQUIRED distinct trusted keys " +
        "must sign a version before it may take a role)",
    )
    .argument("<version>")
    .requiredOption("--key <file>", "ed25519 private key (PEM) of a trusted key")
    .action(async (version: string, options: CommonOptions & { key: string }) => {
      const privateKey = parsePrivateKey(readFileSync(options.key, "utf8"));
      await withOperations(options, async (operations) => {
        const manifest = await operations.cosign(options.module, version, privateKey);
        const signers = [manifest.keyId, ...manifest.cosignatures.map((c) => c.keyId)];
        console.log(
          `${manifest.module} ${manifest.version} now signed by ${signers.length} keys: ${signers.join(", ")}`,
        );
      });
    });

  common(modules.command("list"))
    .description("published versions with their roles, and the latest state changes")
    .option("--all", "every module, not only --module")
    .action((options: CommonOptions & { all?: boolean }) => runList(options, (line) => console.log(line)));

  common(modules.command("report"))
    .description("what every process sees: active calls, canary error rate, shadow differences")
    .action((options: CommonOptions) => runReport(options, (line) => console.log(line)));

  common(modules.command("verify"))
    .description("run every check on a published version, as each process does before loading it")
    .argument("<version>")
    .action(async (version: string, options: CommonOptions) => {
      await withOperations(options, async (operations) => {
        const manifest = await operations.verify(options.module, version);
        console.log(
          `${manifest.module} ${manifest.version}: signature (key ${manifest.keyId}), sha256, WebAssembly.validate,`,
        );
        console.log("imports, exports, ABI and self-test all pass");
      });
    });

  common(modules.command("activate"))
    .description("make a version active in every process (swapped at a decision boundary)")
    .argument("<version>")
    .option("--reason <text>", "why, for the history", "")
    .option("--allow-downgrade", "activate a version older than the newest ever active (recorded in the history)")
    .action(async (version: string, options: CommonOptions & { reason: string; allowDowngrade?: boolean }) => {
      await withOperations(options, async (operations) => {
        const state = await operations.activate(options.module, version, options.reason, options.allowDowngrade);
        console.log(`activated${state.history.at(-1)?.downgrade ? " (downgrade)" : ""}: ${describeState(state)}`);
      });
    });

  common(modules.command("revoke-key"))
    .description(
      "operator: revoke a signing key in every process: modules it signed are refused, and rolled back where they run",
    )
    .argument("<key-id>", "16 hex digits (chorus modules list shows each version's key)")
    .requiredOption("--reason <text>", "why, for the list and the history")
    .action(async (keyId: string, options: CommonOptions & { reason: string }) => {
      await withConnection(options.natsUrl, async (nc) => {
        const registry = await ModuleRegistry.open(jetstream(nc));
        await KeyRevocations.revoke(registry.states, {
          keyId,
          reason: options.reason,
          actor: actor(),
          at: new Date().toISOString(),
        });
        console.log(`revoked key ${keyId}: every process refuses and rolls back what it signed`);
      });
    });

  common(modules.command("shadow"))
    .description('run a version beside the active one and compare, without affecting responses ("off" stops)')
    .argument("<version>")
    .option("--reason <text>", "why, for the history", "")
    .action(async (version: string, options: CommonOptions & { reason: string }) => {
      await withOperations(options, async (operations) => {
        const state = await operations.shadow(options.module, version === "off" ? "" : version, options.reason);
        console.log(`shadow ${version === "off" ? "stopped" : "started"}: ${describeState(state)}`);
      });
    });

  common(modules.command("canary"))
    .description("serve a share of decisions with a version (0 ends the canary)")
    .argument("<version>")
    .argument("<percent>", "0-100", parsePercent)
    .option("--reason <text>", "why, for the history", "")
    .action(async (version: string, percent: number, options: CommonOptions & { reason: string }) => {
      await withOperations(options, async (operations) => {
        const state = await operations.canary(options.module, version, percent, options.reason);
        console.log(`canary ${percent === 0 ? "ended" : "started"}: ${describeState(state)}`);
      });
    });

  common(modules.command("rollback"))
    .description("end a running canary/shadow, or else return to the previous active version")
    .option("--reason <text>", "why, for the history", "")
    .action(async (options: CommonOptions & { reason: string }) => {
      await withOperations(options, async (operations) => {
        console.log(`rolled back: ${describeState(await operations.rollback(options.module, options.reason))}`);
      });
    });

  modules
    .command("steward")
    .description(
      "run the rollout steward: the operator-side writer of module state that applies the automatic rollbacks " +
        "gateways and agents ask for (they may not write module state themselves); runs until stopped",
    )
    .option("--nats-url <url>", "NATS server", defaultNatsUrl())
    .action(async (options: { natsUrl: string }) => {
      const access = toolNatsAccess(options.natsUrl);
      const nc = await connectNats({ servers: access.url, name: "chorus-rollout-steward", auth: access.auth });
      const steward = await startRolloutSteward(nc, createLogger("rollout-steward"));
      console.log(`rollout steward serving ${subjects.moduleRollbackAll} on ${access.url} (Ctrl-C stops)`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      steward.stop();
      await nc.drain();
    });
}
