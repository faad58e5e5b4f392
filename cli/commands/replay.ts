/**
 * `chorus replay <decision-id>`: re-runs the kernel on a logged decision's inputs with the kernel version it was
 * made with and shows whether the pod is reproduced bit for bit; `--with-module <version>` replays with another
 * published kernel version (or `--module-file` with any kernel build) to show what it would have decided.
 */
import type { Command } from "commander";
import type { DecisionRecord } from "../../gen/chorus/v1/decision_log_pb.ts";
import { defaultNatsUrl } from "../../lib/nats/local-mesh.ts";
import type { ModuleVerifier } from "../../modules/module-verifier.ts";
import { readDecisionRecord } from "../../telemetry/decision-log-reader.ts";
import { builtinKernel, type KernelSource, kernelFromFile, kernelFromRegistry } from "../../telemetry/kernel-source.ts";
import { withConnection } from "../../telemetry/one-shot-connection.ts";
import { type ReplayResult, recordedKernelVersion, replayDecision } from "../../telemetry/replay.ts";
import { useLocalMeshTrustedKeys } from "../local-mesh.ts";

export interface ReplayOptions {
  natsUrl: string;
  withModule?: string;
  moduleFile?: string;
  /** Checks registry bytes before they run (default: the configured trusted keys and checks). */
  verifier?: ModuleVerifier;
}

/** Versions the engine records for the kernel that ships in wasm-core/build rather than the registry. */
const isBuiltin = (version: string) => version === "" || version.startsWith("builtin");

export async function runReplay(
  decisionId: string,
  options: ReplayOptions,
  print: (line: string) => void,
): Promise<ReplayResult> {
  useLocalMeshTrustedKeys();
  return withConnection(options.natsUrl, async (nc) => {
    const record = await readDecisionRecord(nc, decisionId);
    const recordedVersion = recordedKernelVersion(record);
    const kernel: KernelSource = options.moduleFile
      ? await kernelFromFile(options.moduleFile)
      : options.withModule
        ? await kernelFromRegistry(nc, options.withModule, options.verifier)
        : isBuiltin(recordedVersion)
          ? builtinKernel()
          : await kernelFromRegistry(nc, recordedVersion, options.verifier);
    const result = replayDecision(record, kernel);
    printReplay(record, result, recordedVersion, Boolean(options.withModule || options.moduleFile), print);
    return result;
  });
}

function printReplay(
  record: DecisionRecord,
  result: ReplayResult,
  recordedVersion: string,
  otherModule: boolean,
  print: (line: string) => void,
): void {
  const ids = record.kernelInputs?.creativeIds ?? [];
  const pod = (indices: ArrayLike<number>, prices: ArrayLike<number>, count: number) =>
    count === 0
      ? "no ads"
      : Array.from(
          { length: count },
          (_, t) => `${t + 1}. ${ids[indices[t]!] ?? indices[t]} at ${prices[t]} micros`,
        ).join(", ");
  print(`Decision ${record.decisionId} (${record.coordination}, inventory ${record.kernelInputs?.inventoryVersion})`);
  print(
    `  recorded with kernel ${recordedVersion || "builtin"}: ${pod(result.recorded.indices, result.recorded.prices, result.recorded.count)}`,
  );
  print(
    `  replayed with kernel ${result.moduleVersion}: ${pod(result.replayed.indices, result.replayed.prices, result.replayed.count)}`,
  );
  if (result.reproduced) {
    print("REPRODUCED: every output matches the record bit for bit.");
    return;
  }
  print(otherModule ? "DIFFERENT: this kernel would have decided otherwise:" : "NOT REPRODUCED:");
  for (const line of result.differences) print(`  - ${line}`);
}

export function register(program: Command): void {
  program
    .command("replay")
    .description("re-run the kernel on a logged decision and check that it reproduces exactly")
    .argument("<decision-id>", "the decision id (DecideResponse.decision_id, the run id)")
    .option("--nats-url <url>", "NATS server with the decision log", defaultNatsUrl())
    .option("--with-module <version>", "replay with this published kernel version from the module registry")
    .option("--module-file <path.wasm>", "replay with a kernel build from a file")
    .action(async (decisionId: string, options: ReplayOptions) => {
      const result = await runReplay(decisionId, options, (line) => console.log(line));
      // A replay with the recorded kernel that does not reproduce is a failure; another module may differ.
      if (!result.reproduced && !options.withModule && !options.moduleFile) process.exitCode = 1;
    });
}
