/**
 * The layer check (CI: .ci/run; by hand: npm run check:layers). Fails on an import that goes up the layer order
 * below, on an import between two folders of the same rank, on a forbidden edge, and on any import circle
 * (between files, and between the folders of a layer). This file is the one place the allowed order is written;
 * docs/architecture.md explains it.
 */

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

/**
 * Lowest first. A file belongs to the longest folder that names it; it may import its own folder and folders of
 * LOWER ranks only. Folders sharing a rank are peers and may not import each other.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ["gen"], // generated protobuf code (npm run generate)
  ["lib"], // shared plumbing: NATS, config, logs, processes, catalog, subjects, codecs, demo data, test fixtures
  ["wasm-core"], // the WASM kernel and agent scoring modules with their TypeScript hosts
  ["modules"], // signed module registry, verification, watching, rollout
  ["voting"], // the voting layer: the agents' pure state and votes, scoring, mirror (gateway and agents share it)
  ["ledger"], // exactly-once spend: ledger, spend guard, event sink and their interfaces
  ["telemetry"], // tracing, metrics, decision log, explain, replay
  ["agents"], // agent processes: host, runtime, the Budget agent's lease service
  ["gateway"], // the gateway process: protocol server, decide pipeline, services
  ["launch", "bench/lib", "loadtest"], // libraries of the entry points: mesh launcher, bench measurement, k6 scripts
  ["scripts", "cli", "bench", "sim"], // entry points
  ["test"], // end-to-end and cross-process tests: may drive any of the above
];

/** Edges the order alone would allow but the design does not. Spec files and testing/ folders are exempt. */
export const FORBIDDEN: readonly { from: string; to: string; why: string }[] = [
  { from: "gateway/server", to: "gateway/decide", why: "the protocol layer only knows gateway/ports.ts" },
  { from: "gateway", to: "agents", why: "the gateway runs the voting layer, never an agent process's runtime" },
];

/** Not checked: generated and vendored code, the AssemblyScript sources (their own compiler and import graph). */
const SKIP = ["gen/", "proto-vendor/", "node_modules/", "dist/", "wasm-core/assembly/", "wasm-core/build/"];

interface Violation {
  from: string;
  to: string;
  why: string;
}

function layerOf(file: string): { folder: string; rank: number } | undefined {
  let best: { folder: string; rank: number } | undefined;
  LAYERS.forEach((folders, rank) => {
    for (const folder of folders) {
      if ((file.startsWith(`${folder}/`) || file === folder) && (!best || folder.length > best.folder.length)) {
        best = { folder, rank };
      }
    }
  });
  return best;
}

const isTestCode = (file: string) => /\.spec\.ts$/.test(file) || file.split("/").includes("testing");
const within = (file: string, folder: string) => file === folder || file.startsWith(`${folder}/`);

/** Relative imports (static, dynamic, re-exports, type-only) of one file, resolved to repository paths. */
function importsOf(root: string, file: string): string[] {
  const info = ts.preProcessFile(readFileSync(path.join(root, file), "utf8"), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith("./") || spec.startsWith("../"))
    .map((spec) => path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
}

/** Strongly connected components with more than one member (Tarjan), i.e. the import circles. */
function circles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return found;
}

export function checkLayers(root: string): {
  violations: Violation[];
  fileCircles: string[][];
  folderCircles: string[][];
  files: number;
} {
  const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
    cwd: root,
    encoding: "utf8",
  })
    .split("\n")
    .filter((f) => /\.(ts|mts|js|mjs)$/.test(f) && !f.endsWith(".d.ts") && !SKIP.some((s) => f.startsWith(s)));
  const violations: Violation[] = [];
  const fileGraph = new Map<string, Set<string>>();
  const folderGraph = new Map<string, Set<string>>();
  for (const file of files) {
    const from = layerOf(file);
    const edges = new Set<string>();
    fileGraph.set(file, edges);
    for (const target of importsOf(root, file)) {
      edges.add(target);
      const to = layerOf(target);
      if (!from || !to) continue; // root files (vitest.config.ts) and outside the tree
      if (to.rank > from.rank) {
        violations.push({
          from: file,
          to: target,
          why: `${from.folder} (rank ${from.rank}) imports higher ${to.folder} (rank ${to.rank})`,
        });
      } else if (to.rank === from.rank && to.folder !== from.folder) {
        violations.push({
          from: file,
          to: target,
          why: `peers ${from.folder} and ${to.folder} may not import each other`,
        });
      }
      if (!isTestCode(file)) {
        for (const rule of FORBIDDEN) {
          if (within(file, rule.from) && within(target, rule.to) && !within(file, rule.to)) {
            violations.push({ from: file, to: target, why: `${rule.from} -> ${rule.to}: ${rule.why}` });
          }
        }
      }
      // Folder circles inside a layer (e.g. voting/scoring <-> voting/contract), spec files left out: a spec may
      // exercise its folder through a higher one of the same layer.
      const a = path.posix.dirname(file);
      const b = path.posix.dirname(target);
      if (a !== b && !file.endsWith(".spec.ts")) {
        if (!folderGraph.has(a)) folderGraph.set(a, new Set());
        folderGraph.get(a)!.add(b);
      }
    }
  }
  return { violations, fileCircles: circles(fileGraph), folderCircles: circles(folderGraph), files: files.length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
  const { violations, fileCircles, folderCircles, files } = checkLayers(root);
  for (const v of violations) console.error(`upward/forbidden import: ${v.from} -> ${v.to}\n    ${v.why}`);
  for (const c of fileCircles) console.error(`import circle between files: ${c.join(" <-> ")}`);
  for (const c of folderCircles) console.error(`import circle between folders: ${c.join(" <-> ")}`);
  const problems = violations.length + fileCircles.length + folderCircles.length;
  console.log(
    `layers: ${files} files checked; ${violations.length} bad imports, ${fileCircles.length} file circles, ${folderCircles.length} folder circles`,
  );
  console.log(`order (lowest first): ${LAYERS.map((l) => l.join(" | ")).join("  <  ")}`);
  process.exit(problems === 0 ? 0 : 1);
}
