import { USER_SHARDS } from "../../lib/subjects.ts";

/**
 * The user shards an instance owns, from AGENT_SHARDS ("0-7", "0,3,9-11") or, when that is empty, from
 * instance index/count (shard s belongs to instance s % count). Throws naming the bad part.
 */
export function assignShards(spec: string, index = 0, count = 1): number[] {
  if (!spec.trim()) {
    if (!(count >= 1 && index >= 0 && index < count)) throw new Error(`instance index ${index} of ${count} is invalid`);
    return Array.from({ length: USER_SHARDS }, (_, s) => s).filter((s) => s % count === index);
  }
  const out = new Set<number>();
  for (const part of spec.split(",").map((p) => p.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const from = Number(m?.[1]);
    const to = Number(m?.[2] ?? m?.[1]);
    if (!m || from > to || to >= USER_SHARDS)
      throw new Error(`shard range "${part}" is not within 0-${USER_SHARDS - 1}`);
    for (let s = from; s <= to; s++) out.add(s);
  }
  return [...out].sort((a, b) => a - b);
}
