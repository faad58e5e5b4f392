import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { AdFormat, AgeBracket, BreakKind, ContentKind, DeviceType } from "../../gen/chorus/v1/common_pb.ts";
import { type DecideRequest, DecideRequestSchema } from "../../gen/chorus/v1/decision_pb.ts";
import type { Inventory } from "../../lib/catalog/inventory.ts";
import { SliceCache } from "../../lib/catalog/slice-cache.ts";
import { demoCatalog } from "../../lib/demo/demo-catalog.ts";
import { demoInventory } from "../../lib/demo/demo-inventory.ts";
import { createSeededRandom } from "../../lib/random/seeded-random.ts";
import { VOTING_AGENTS } from "../../lib/subjects.ts";
import type { AnyAgentModule } from "../../voting/contract/agent-module.ts";
import { kernelWeights } from "../../voting/orchestrator/vote.ts";
import { loadAgents } from "../../voting/registry/agent-loaders.ts";
import { decideReference } from "../../wasm-core/src/kernel-reference.ts";
import { buildKernelRequest } from "./build-kernel-request.ts";
import { toKernelInventory } from "./kernel-port.ts";
import { winners } from "./pod-response.ts";
import { Retriever } from "./retrieval.ts";

const NOW = Date.UTC(2026, 0, 5, 14, 30);

function randomRequests(count: number, seed: number): { request: DecideRequest; nowMs: number }[] {
  const rnd = createSeededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  return Array.from({ length: count }, (_, i) => ({
    nowMs: NOW + Math.floor(rnd() * 24) * 3_600_000,
    request: create(DecideRequestSchema, {
      requestId: `r${i}`,
      placement: {
        breakKind: pick([BreakKind.MID_ROLL, BreakKind.PRE_ROLL]),
        maxDurationMs: pick([15_000, 30_000, 60_000]),
        maxAds: pick([1, 2, 3]),
        floorPriceMicros: BigInt(pick([0, 1_000])),
        allowedFormats: rnd() < 0.2 ? [AdFormat.AUDIO] : [],
        forceNow: true,
      },
      user: {
        userId: `u${i}`,
        consent: { personalizedAds: rnd() < 0.7 },
        ageBracket: pick([
          AgeBracket.AGE_BRACKET_UNSPECIFIED,
          AgeBracket.AGE_BRACKET_18_24,
          AgeBracket.AGE_BRACKET_45_54,
        ]),
        geo: { country: pick(["DE", "FR", "US", "SE", "BR"]) },
      },
      device: {
        type: pick([DeviceType.PHONE, DeviceType.DESKTOP, DeviceType.SMART_SPEAKER]),
        screenOn: rnd() < 0.6,
        foreground: rnd() < 0.6,
        touch: rnd() < 0.5,
      },
      context: {
        sessionId: `s${i}`,
        contentKind: pick([ContentKind.MUSIC, ContentKind.PODCAST, ContentKind.UNSPECIFIED]),
        genre: pick(["pop", "rock", "jazz", "news", ""]),
        contentDurationMs: 200_000,
        positionMs: 200_000,
      },
    }),
  }));
}

/** The pod the kernel picks on `inventory` with every agent's vote on a fresh state (all local, no NATS). */
function podOn(
  modules: readonly { module: AnyAgentModule; state: unknown }[],
  inventory: Inventory,
  request: DecideRequest,
  nowMs: number,
) {
  const ctx = { runId: "run", request, inventory, nowMs, priorVotes: [] };
  const votes = new Map(modules.map(({ module, state }) => [module.name, module.vote(ctx, state)]));
  const agents = VOTING_AGENTS.filter((a) => votes.has(a));
  const inputs = buildKernelRequest(
    inventory,
    request,
    votes,
    agents,
    kernelWeights(votes.get("orchestrator"), agents, new Set()),
    undefined,
  );
  const result = decideReference(toKernelInventory(inventory), inputs.request);
  return {
    eligible: result.eligibleCount,
    pod: winners(result, agents.length).map((w) => `${inventory.candidates[w.index]!.creative.id}@${w.priceMicros}`),
  };
}

describe("retrieval stage", () => {
  // 2,400 creatives of 600 campaigns: a full scan still fits the kernel, so the two can be compared.
  const catalog = demoInventory(demoCatalog({ advertisers: 200, nowMs: NOW - 86_400_000 }));

  it("where a full scan fits, the slice decides the same pod as the whole catalog (all agents, reference kernel)", async () => {
    const modules = (await loadAgents(VOTING_AGENTS)).map((module) => ({ module, state: module.createState() }));
    const retriever = new Retriever({ maxCandidates: 4_096 });
    let filled = 0;
    for (const { request, nowMs } of randomRequests(60, 11)) {
      const slice = retriever.retrieve(catalog, request, nowMs);
      expect(slice.size).toBeLessThan(catalog.size);
      const full = podOn(modules, catalog, request, nowMs);
      const narrowed = podOn(modules, slice, request, nowMs);
      expect(narrowed.pod).toEqual(full.pod);
      // Everything the index dropped was ineligible anyway: the eligible sets are the same size.
      expect(narrowed.eligible).toBe(full.eligible);
      if (full.pod.length > 0) filled++;
    }
    expect(filled).toBeGreaterThan(20);
  }, 60_000);

  it("keeps the best N by prior, in catalog order, and remembers the slice per retrieval key", () => {
    const retriever = new Retriever({ maxCandidates: 64 });
    const [{ request, nowMs }] = randomRequests(1, 3) as [{ request: DecideRequest; nowMs: number }];
    const slice = retriever.retrieve(catalog, request, nowMs);
    expect(slice.size).toBe(64);
    expect(slice.catalog).toBe(catalog);
    const indices = [...slice.catalogIndex!];
    expect(indices).toEqual([...indices].sort((a, b) => a - b));
    const bid = (c: { campaign: { bidStrategy?: { maxCpmMicros: bigint } } }) =>
      Number(c.campaign.bidStrategy?.maxCpmMicros ?? 0n);
    const lowestKept = Math.min(...slice.candidates.map(bid));
    const all = new Retriever({ maxCandidates: 100_000 }).retrieve(catalog, request, nowMs);
    // Nothing left out bids more than what was kept.
    const kept = new Set(slice.candidates.map((c) => c.creative.id));
    for (const c of all.candidates) if (!kept.has(c.creative.id)) expect(bid(c)).toBeLessThanOrEqual(lowestKept);
    slice.candidates.forEach((c, i) => {
      expect(c.index).toBe(i);
      expect(catalog.candidates[indices[i]!]!.creative.id).toBe(c.creative.id);
    });
    expect(retriever.retrieve(catalog, { ...request, requestId: "other" }, nowMs + 1)).toBe(slice);
    expect(retriever.stats).toMatchObject({ hits: 1, misses: 1 });
  });

  it("leaves out campaigns without spend headroom, and takes them back once they have some", () => {
    const blocked = new Set<string>();
    const retriever = new Retriever({ maxCandidates: 4_096, recheckMs: 100, mayServe: (id) => !blocked.has(id) });
    const [{ request, nowMs }] = randomRequests(1, 5) as [{ request: DecideRequest; nowMs: number }];
    const before = retriever.retrieve(catalog, request, nowMs);
    const victim = before.candidates[0]!.campaign.id;
    blocked.add(victim);
    expect(retriever.retrieve(catalog, request, nowMs + 50)).toBe(before);
    const after = retriever.retrieve(catalog, request, nowMs + 150);
    expect(after.candidates.some((c) => c.campaign.id === victim)).toBe(false);
    blocked.delete(victim);
    expect(retriever.retrieve(catalog, request, nowMs + 300).candidates.some((c) => c.campaign.id === victim)).toBe(
      true,
    );
  });

  it("keeps at most setCacheSize slices however many candidate sets and keys go by (a dropped set's keys go with it)", () => {
    // Spend headroom moving campaign by campaign makes a new candidate set per recheck, on many keys: before, the
    // key memory (4,096) kept slices the set memory had dropped, each with the agents' per-inventory caches.
    const campaigns = [...new Set(catalog.candidates.map((c) => c.campaign.id))];
    const blocked = new Set<string>();
    const retriever = new Retriever({
      maxCandidates: 4_096,
      recheckMs: 1,
      setCacheSize: 8,
      mayServe: (id) => !blocked.has(id),
    });
    const requests = randomRequests(40, 11);
    let at = NOW;
    const seen = new Set<Inventory>();
    for (let round = 0; round < 8; round++) {
      blocked.clear();
      blocked.add(campaigns[round % campaigns.length]!);
      for (const { request } of requests) {
        at += 2;
        seen.add(retriever.retrieve(catalog, request, at));
      }
    }
    expect(seen.size).toBeGreaterThan(40);
    expect(retriever.keptSlices).toBeLessThanOrEqual(8);
    // What it keeps is still right: the slice for a request is the one a fresh retriever selects.
    const { request } = requests[0]!;
    at += 2;
    const again = retriever.retrieve(catalog, request, at);
    const fresh = new Retriever({ maxCandidates: 4_096, mayServe: (id) => !blocked.has(id) }).retrieve(
      catalog,
      request,
      at,
    );
    expect([...again.catalogIndex!]).toEqual([...fresh.catalogIndex!]);
  });

  it("one slice object per candidate set: a set that comes back (headroom restored, another key) is the same object", () => {
    const blocked = new Set<string>();
    const retriever = new Retriever({ maxCandidates: 4_096, recheckMs: 100, mayServe: (id) => !blocked.has(id) });
    const [{ request, nowMs }] = randomRequests(1, 5) as [{ request: DecideRequest; nowMs: number }];
    const before = retriever.retrieve(catalog, request, nowMs);
    blocked.add(before.candidates[0]!.campaign.id);
    const without = retriever.retrieve(catalog, request, nowMs + 150);
    expect(without).not.toBe(before);
    blocked.clear();
    // The agents' and the kernel's caches per inventory stay warm: the set is back, so is its object.
    expect(retriever.retrieve(catalog, request, nowMs + 300)).toBe(before);
    // Another retrieval key (another user id and request id do not change the key; another country may not change
    // the set): whenever the candidates are the same, the object is.
    for (const { request: other, nowMs: at } of randomRequests(40, 9)) {
      const slice = retriever.retrieve(catalog, other, at);
      const fresh = new Retriever({ maxCandidates: 4_096 }).retrieve(catalog, other, at);
      expect([...slice.catalogIndex!]).toEqual([...fresh.catalogIndex!]);
      if (sameSet(slice, before)) expect(slice).toBe(before);
    }
  });

  it("an agent rebuilds the gateway's slice from the indices: same candidates, same version", () => {
    const [{ request, nowMs }] = randomRequests(1, 8) as [{ request: DecideRequest; nowMs: number }];
    const slice = new Retriever({ maxCandidates: 200 }).retrieve(catalog, request, nowMs);
    const cache = new SliceCache();
    const copy = cache.get(catalog, [...slice.catalogIndex!])!;
    expect(copy.version).toBe(slice.version);
    expect(copy.candidates.map((c) => c.creative.id)).toEqual(slice.candidates.map((c) => c.creative.id));
    expect(cache.get(catalog, [...slice.catalogIndex!])).toBe(copy);
    expect(cache.get(catalog, [5, 3])).toBeUndefined();
    expect(cache.get(catalog, [catalog.size])).toBeUndefined();
  });
});

function sameSet(a: Inventory, b: Inventory): boolean {
  return a.catalogIndex!.length === b.catalogIndex!.length && a.catalogIndex!.every((x, i) => x === b.catalogIndex![i]);
}
