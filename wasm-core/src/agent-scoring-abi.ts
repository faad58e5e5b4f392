/**
 * The agent scoring ABI (version 1), the host's view: which agents have a scoring module, the exports every
 * such module has, each agent's layout (context scalars and feature columns per candidate), the static checks
 * (no instance code runs) and the shipped builds. See wasm-core/README.md, "Agent scoring ABI 1".
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readBinary } from "./kernel-loader.ts";

/** The shipped agent builds declare this memory maximum (64 KiB pages; 64 MiB, the default per-call limit). */
export const AGENT_MAX_MEMORY_PAGES = 1024;
export const AGENT_SCORING_ABI_VERSION = 1;

/** Agents whose numeric scoring runs in a WASM module (assembly/agents/<agent>.ts). */
export const SCORING_AGENTS = ["intent", "relevance", "bidding", "creative", "budget", "timing"] as const;
export type ScoringAgent = (typeof SCORING_AGENTS)[number];

/** How one agent's module reads its input: `context` f64 scalars, then `features` f64 columns per candidate. */
export interface ScoringLayout {
  readonly context: number;
  readonly features: number;
}

export const SCORING_LAYOUTS: Readonly<Record<ScoringAgent, ScoringLayout>> = {
  intent: { context: 34, features: 32 },
  relevance: { context: 1, features: 4 },
  bidding: { context: 0, features: 5 },
  creative: { context: 0, features: 2 },
  timing: { context: 3, features: 1 },
  budget: { context: 0, features: 2 },
};

/** Status codes of `configure` and `score`. */
export const ScoringStatus = { Ok: 0, BadCapacity: -1, OutOfMemory: -2, BadInput: -3, NotConfigured: -4 } as const;

export interface AgentScoringExports {
  readonly memory: WebAssembly.Memory;
  readonly ABI_VERSION: WebAssembly.Global;
  readonly CONTEXT: WebAssembly.Global;
  readonly FEATURES: WebAssembly.Global;
  configure(maxCandidates: number): number;
  input(): number;
  output(): number;
  score(candidates: number): number;
}

const FUNCTIONS: Record<string, string> = {
  configure: "i32->i32",
  input: "->i32",
  output: "->i32",
  score: "i32->i32",
};
const GLOBALS = ["ABI_VERSION", "CONTEXT", "FEATURES"];

/**
 * Why `bytes` are not a scoring module of `agent` under this ABI (undefined: they are). Checks exports, kinds,
 * function signatures and the three globals; instantiating runs no module code (no imports, no start function:
 * the caller checks both first).
 */
export function checkScoringExports(
  bytes: Uint8Array,
  agent: ScoringAgent,
): { abi: boolean; detail: string } | undefined {
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (err) {
    return { abi: false, detail: `does not compile: ${(err as Error).message}` };
  }
  if (WebAssembly.Module.imports(module).length > 0) return { abi: false, detail: "imports something" };
  const exported = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  if (exported.get("memory") !== "memory") return { abi: false, detail: "no memory export" };
  for (const name of GLOBALS)
    if (exported.get(name) !== "global") return { abi: false, detail: `no global export ${name}` };
  const { signatures, hasStart } = readBinary(bytes);
  if (hasStart) return { abi: false, detail: "has a start function" };
  for (const [name, expected] of Object.entries(FUNCTIONS)) {
    if (exported.get(name) !== "function") return { abi: false, detail: `no function export ${name}` };
    if (signatures.get(name) !== expected)
      return { abi: false, detail: `export ${name} has signature ${signatures.get(name)}, expected ${expected}` };
  }
  const exports = new WebAssembly.Instance(module, {}).exports as unknown as AgentScoringExports;
  const abi: unknown = exports.ABI_VERSION.value;
  if (abi !== AGENT_SCORING_ABI_VERSION)
    return { abi: true, detail: `module ABI version is ${String(abi)}, this host speaks ${AGENT_SCORING_ABI_VERSION}` };
  const layout = SCORING_LAYOUTS[agent];
  if (exports.CONTEXT.value !== layout.context || exports.FEATURES.value !== layout.features)
    return {
      abi: true,
      detail: `layout CONTEXT=${exports.CONTEXT.value} FEATURES=${exports.FEATURES.value}, ${agent} needs CONTEXT=${layout.context} FEATURES=${layout.features}`,
    };
  return undefined;
}

/** Path of the shipped build of an agent's scoring module (beside the sources, or from the compiled tree). */
export function agentScoringWasmPath(agent: ScoringAgent): string {
  const candidates = [
    new URL(`../build/agents/${agent}.wasm`, import.meta.url),
    new URL(`../../../wasm-core/build/agents/${agent}.wasm`, import.meta.url),
  ];
  const found = candidates.find((url) => existsSync(url));
  if (found === undefined) throw new Error(`agents/${agent}.wasm not found; run npm run build:wasm`);
  return fileURLToPath(found);
}

export function readAgentScoringWasm(agent: ScoringAgent): Uint8Array {
  return new Uint8Array(readFileSync(agentScoringWasmPath(agent)));
}

export function isScoringAgent(name: string): name is ScoringAgent {
  return (SCORING_AGENTS as readonly string[]).includes(name);
}
