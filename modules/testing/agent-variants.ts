/**
 * Agent scoring modules for the hot-swap tests, compiled from wasm-core's real AssemblyScript sources
 * (assembly/agents/<agent>.ts): each variant re-exports an agent's module and changes one thing. Nothing binary is
 * committed; buildAgentVariant compiles on demand (release flags of wasm-core/scripts/build-wasm.ts) and caches.
 */
import { AGENT_MAX_MEMORY_PAGES } from "../../wasm-core/src/agent-scoring-abi.ts";
import { buildVariant, UNBOUNDED_MEMORY } from "./kernel-variants.ts";

const RELEASE = ["-O3", "--noAssert", "--runtime", "stub", "--noColors"];
const REEXPORT = "export { ABI_VERSION, CONTEXT, FEATURES, configure, input, output }";

/** An entry that replaces `score` by `body`, which may call the real one as realScore(n). */
function wrapScore(agent: string, body: string, prelude = ""): string {
  return `import { score as realScore } from "./${agent}";
import { getScore, setScore } from "./agent-layout";
${REEXPORT} from "./${agent}";
${prelude}
export function score(n: i32): i32 {
${body}
}`;
}

export const agentVariants = {
  /** The real module with a build number: a legitimate new version, same scores. */
  build: (agent: string, n: number) =>
    `export { score } from "./${agent}";\n${REEXPORT} from "./${agent}";\nexport const BUILD: i32 = ${n};`,
  /** A behaviour change that keeps the contract: every score halved (passes the self-test, differs in shadow). */
  halveScores: (agent: string) =>
    wrapScore(
      agent,
      "  const status = realScore(n);\n  for (let c = 0; c < n; c++) setScore(c, getScore(c) * 0.5);\n  return status;",
    ),
  /** Scores outside [0, 1]: fails the self-test. */
  scoresAboveOne: (agent: string) =>
    wrapScore(
      agent,
      "  const status = realScore(n);\n  for (let c = 0; c < n; c++) setScore(c, getScore(c) + 1.5);\n  return status;",
    ),
  /**
   * Traps on every call with `n` candidates, a count the agent's golden cases never use (the test checks): a
   * latent fault that passes every check and fires on live traffic.
   */
  trapOn: (agent: string, n: number) => wrapScore(agent, `  if (n == ${n}) unreachable();\n  return realScore(n);`),
  /** Never returns from a call with `n` candidates (see trapOn). */
  loopOn: (agent: string, n: number) =>
    wrapScore(
      agent,
      `  if (n == ${n}) {
    // A loop with a visible side effect, so no optimizer may drop it.
    while (spins >= 0) spins = (spins + 1) & 0x3fffffff;
  }
  return realScore(n);`,
      "let spins: i32 = 0;",
    ),
  /**
   * Never returns from a call whose candidate count is none of `safe` (pass the golden cases' counts): it passes
   * the self-test and hangs on every live call, whatever the live candidate count is at the time.
   */
  loopUnless: (agent: string, safe: readonly number[]) =>
    wrapScore(
      agent,
      `  if (${safe.map((c) => `n != ${c}`).join(" && ") || "true"}) {
    while (spins >= 0) spins = (spins + 1) & 0x3fffffff;
  }
  return realScore(n);`,
      "let spins: i32 = 0;",
    ),
  /** Scores NaN on every `every`-th call of its instance: a rare fault, far above the self-test's call count. */
  nanEvery: (agent: string, every: number) =>
    wrapScore(
      agent,
      `  const status = realScore(n);
  calls++;
  if (calls % ${every} == 0 && n > 0) setScore(0, NaN);
  return status;`,
      "let calls: i32 = 0;",
    ),
  /** Never returns from every `every`-th call of its instance (see nanEvery). */
  hangEvery: (agent: string, every: number) =>
    wrapScore(
      agent,
      `  calls++;
  if (calls % ${every} == 0) {
    while (spins >= 0) spins = (spins + 1) & 0x3fffffff;
  }
  return realScore(n);`,
      "let calls: i32 = 0;\nlet spins: i32 = 0;",
    ),
  /** Grows its memory by 2 MiB on every call with `n` candidates (see trapOn): memory without bound. */
  growOn: (agent: string, n: number) => wrapScore(agent, `  if (n == ${n}) memory.grow(32);\n  return realScore(n);`),
  /** Loops on its first call: the self-test runs out of time. */
  loopAlways: (agent: string) =>
    wrapScore(
      agent,
      "  while (spins >= 0) spins = (spins + 1) & 0x3fffffff;\n  return realScore(n);",
      "let spins: i32 = 0;",
    ),
  /** Grows its memory on every call: fails the self-test's bounded-memory check. */
  growMemory: (agent: string) => wrapScore(agent, "  memory.grow(1);\n  return realScore(n);"),
  /** Imports a WASI function (a host escape). */
  forbiddenImport: (agent: string) =>
    wrapScore(
      agent,
      "  if (n == -7) procExit(1);\n  return realScore(n);",
      '@external("wasi_snapshot_preview1", "proc_exit")\ndeclare function procExit(code: i32): void;',
    ),
  /** Lacks the score export. */
  missingExport: (agent: string) => `${REEXPORT} from "./${agent}";`,
  /** Claims ABI 2. */
  abiTwo: (agent: string) =>
    `export { score, CONTEXT, FEATURES, configure, input, output } from "./${agent}";\nexport const ABI_VERSION: i32 = 2;`,
} as const;

/** flags: extra asc options; the shipped builds' memory maximum unless they hold UNBOUNDED_MEMORY or their own. */
export function buildAgentVariant(agent: string, source: string, flags: readonly string[] = []): Promise<Uint8Array> {
  const memory = flags.some((f) => f === "--maximumMemory" || f === UNBOUNDED_MEMORY)
    ? []
    : ["--maximumMemory", String(AGENT_MAX_MEMORY_PAGES)];
  return buildVariant(
    source,
    "assembly/agents/hot-swap-variant.ts",
    [`assembly/agents/${agent}.ts`, "assembly/agents/agent-layout.ts"],
    [...RELEASE, ...memory, ...flags.filter((f) => f !== UNBOUNDED_MEMORY)],
  );
}
