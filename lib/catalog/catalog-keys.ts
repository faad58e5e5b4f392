/** Keys of the catalog KV bucket (lib/subjects.ts `buckets.catalog`). */
export type EntityKind = "advertiser" | "campaign" | "creative";

export const catalogKey = (kind: EntityKind, id: string) => `${kind}.${id}`;

export function parseCatalogKey(key: string): { kind: EntityKind; id: string } | undefined {
  const dot = key.indexOf(".");
  const kind = key.slice(0, dot);
  if (kind !== "advertiser" && kind !== "campaign" && kind !== "creative") return undefined;
  return { kind, id: key.slice(dot + 1) };
}
