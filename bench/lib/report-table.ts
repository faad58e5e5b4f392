import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export interface Column<Row> {
  header: string;
  value: (row: Row) => string | number;
  /** Numbers align right by default. */
  align?: "left" | "right";
}

/** A plain-text table (also valid GitHub markdown), so it can be pasted into docs as printed. */
export function formatTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((c) => String(c.value(row))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const aligns = columns.map(
    (c) => c.align ?? (rows.length && typeof c.value(rows[0]!) === "number" ? "right" : "left"),
  );
  const line = (values: string[]) =>
    `| ${values.map((v, i) => (aligns[i] === "right" ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (aligns[i] === "right" ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(columns.map((c) => c.header)), rule, ...cells.map(line)].join("\n");
}

/** Writes a result file (creating its folder) and returns the path. */
export function writeJson(path: string, data: unknown): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(data, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`);
  return path;
}

/** bench-results/<name>-<UTC timestamp>.json */
export function defaultJsonPath(name: string, now = new Date()): string {
  return `bench-results/${name}-${now.toISOString().replace(/[:.]/g, "-")}.json`;
}
