/** `chorus explain <decision-id>`: why each candidate of a logged decision won or lost, per agent, in plain words. */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Command, InvalidArgumentError } from "commander";
import { NoFillReason } from "../../gen/chorus/v1/decision_pb.ts";
import { defaultNatsUrl } from "../../lib/nats/local-mesh.ts";
import { readDecisionRecord } from "../../telemetry/decision-log-reader.ts";
import { DEFAULT_DETAILED_LOSERS, degradedSentence, explainRecord } from "../../telemetry/explain.ts";
import { withConnection } from "../../telemetry/one-shot-connection.ts";

export interface ExplainOptions {
  natsUrl: string;
  /** Losing candidates shown in full (default DEFAULT_DETAILED_LOSERS). */
  losers?: number;
  all?: boolean;
}

export async function runExplain(
  decisionId: string,
  options: ExplainOptions,
  print: (line: string) => void,
): Promise<void> {
  const record = await withConnection(options.natsUrl, (nc) => readDecisionRecord(nc, decisionId));
  const when = record.decidedAt ? timestampDate(record.decidedAt).toISOString() : "unknown time";
  print(`Decision ${record.decisionId} at ${when}, ${record.coordination} coordination, gateway ${record.gateway}`);
  print(`Modules: ${record.moduleVersions.map((m) => `${m.module} ${m.version}`).join(", ") || "none recorded"}`);
  const explained = explainRecord(record, options.all ? Number.POSITIVE_INFINITY : options.losers);
  if (!explained) {
    const noFill = NoFillReason[record.response?.noFillReason ?? NoFillReason.UNSPECIFIED];
    print(`The kernel did not run (no fill: ${noFill.toLowerCase().replaceAll("_", " ")}).`);
    for (const d of record.response?.degradedAgents ?? []) print(degradedSentence(d));
    return;
  }
  for (const line of explained.lines) print(line);
}

function count(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be a whole number >= 0");
  return n;
}

export function register(program: Command): void {
  program
    .command("explain")
    .description("explain a logged decision: why each ad won or lost, per agent (vetoes, scores, weights, prices)")
    .argument("<decision-id>", "the decision id (DecideResponse.decision_id, the run id)")
    .option("--nats-url <url>", "NATS server with the decision log", defaultNatsUrl())
    .option("--losers <n>", "losing candidates shown in full (the rest get one line)", count, DEFAULT_DETAILED_LOSERS)
    .option("--all", "every candidate in full, every veto listed")
    .action((decisionId: string, options: ExplainOptions) =>
      runExplain(decisionId, options, (line) => console.log(line)),
    );
}
