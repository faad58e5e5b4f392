/**
 * `chorus users forget <user-id>`: erasure of a listener everywhere Chorus keeps it (cli/erasure/forget-listeners.ts),
 * as the operator identity. The raw id is turned into its pseudonyms here with the gateways' key
 * (CHORUS_PSEUDONYM_KEY_FILE or CHORUS_PSEUDONYM_SALT, else the local mesh's `.data/pseudonym.key`) and never sent.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { defaultNatsUrl, localDataDir } from "../../lib/nats/local-mesh.ts";
import { pseudonymsFromEnv } from "../../lib/privacy/pseudonym-key.ts";
import type { Pseudonyms } from "../../lib/privacy/pseudonyms.ts";
import { withConnection } from "../../telemetry/one-shot-connection.ts";
import { type ForgetReport, forgetListeners } from "../erasure/forget-listeners.ts";

export interface ForgetCommandOptions {
  natsUrl: string;
  /** Sessions the listener used without measurement consent (known on the bus by a per-session pseudonym). */
  session?: string[];
  answerMs?: number;
  ledgerWaitMs?: number;
}

/** The gateways' pseudonym key: from the environment, else the one npm start keeps in the data dir. */
export function operatorPseudonyms(env: NodeJS.ProcessEnv = process.env): Pseudonyms {
  if (env.CHORUS_PSEUDONYM_KEY_FILE || env.CHORUS_PSEUDONYM_SALT) return pseudonymsFromEnv(env);
  const file = join(localDataDir(env), "pseudonym.key");
  if (!existsSync(file))
    throw new Error(
      "set CHORUS_PSEUDONYM_KEY_FILE to the gateways' pseudonym key (npm start keeps one in .data/pseudonym.key)",
    );
  return pseudonymsFromEnv({ CHORUS_PSEUDONYM_KEY_FILE: file });
}

export async function runForget(
  userId: string,
  options: ForgetCommandOptions,
  print: (line: string) => void,
  pseudonyms: Pseudonyms = operatorPseudonyms(),
): Promise<ForgetReport> {
  if (!userId.trim()) throw new InvalidArgumentError("<user-id> must not be empty");
  const ids = [
    pseudonyms.user(userId),
    ...(options.session ?? []).map((s) => pseudonyms.listener(userId, s, false)),
    ...(options.session ?? []).map((s) => pseudonyms.session(s)),
  ];
  const report = await withConnection(options.natsUrl, (nc) =>
    forgetListeners(nc, {
      pseudonyms: ids,
      decisionLogKey: pseudonyms.decisionLogKey(),
      answerMs: options.answerMs,
      ledgerWaitMs: options.ledgerWaitMs,
      progress: print,
    }),
  );
  for (const a of report.answered)
    print(`  ${a.process}${a.agent ? ` (${a.agent})` : ""}: ${a.keys.length ? a.keys.join(", ") : "held nothing"}`);
  if (report.stateKeysRewritten.length)
    print(`agent state rewritten here (no process did): ${report.stateKeysRewritten.join(", ")}`);
  const erased = Object.entries(report.erased).map(([s, n]) => `${s} ${n}`);
  print(`messages erased: ${erased.length ? erased.join(", ") : "none"}`);
  if (report.receiptsRestored) print(`other listeners' receipts stored alone: ${report.receiptsRestored}`);
  if (report.remaining.length) {
    print(`still holding the listener: ${report.remaining.join(", ")}`);
    throw new Error(`the listener is not forgotten everywhere yet (${report.remaining.length} messages): run again`);
  }
  print("forgotten: nothing of the listener remains in memory, KV or streams");
  return report;
}

function millis(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be a whole number of milliseconds");
  return n;
}

export function register(program: Command): void {
  const users = program.command("users").description("listeners' data (erasure)");
  users
    .command("forget")
    .description(
      "erase a listener: profile, caps and timing state in every agent and gateway, receipts, ad events (once the " +
        "ledger's totals hold them), decision-log records, quarantined events",
    )
    .argument("<user-id>", "the listener's user id as the client sends it (turned into its pseudonyms here)")
    .option("--session <id...>", "session ids the listener used without measurement consent")
    .option("--nats-url <url>", "NATS server of the mesh", defaultNatsUrl())
    .option("--answer-ms <ms>", "how long processes may take to answer", millis, 3_000)
    .option("--ledger-wait-ms <ms>", "how long to wait for the ledger's snapshot to cover the events", millis, 30_000)
    .action(async (userId: string, options: ForgetCommandOptions) => {
      await runForget(userId, options, (line) => console.log(line));
    });
}
