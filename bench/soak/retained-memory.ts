/**
 * node --expose-gc --import tsx bench/soak/retained-memory.ts [--decisions 60000]
 *
 * What the gateway's per-decision memories retain, measured on the heap (after a full GC) and off it: the
 * request_id idempotency memory (an answered decision per request id, 10 minutes: 60,000 at 100/s) and the receipt
 * cache, kept as objects (before) and as their wire encoding under caps (now). The ads are built as the gateway
 * builds them (lib/demo catalog, pod-response.ts): their URLs and ids are the catalog's strings, shared, not copies.
 * A soak's gateway heap grew for the first ten minutes and more while these filled.
 */
import { randomUUID } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Command } from "commander";
import { EventTokens } from "../../gateway/auth/event-token.ts";
import { IdempotentDecisions } from "../../gateway/services/idempotent-decisions.ts";
import {
  type DecideResponse,
  DecideResponseSchema,
  DegradedAgentSchema,
  ModuleVersionSchema,
  PodAdSchema,
} from "../../gen/chorus/v1/decision_pb.ts";
import { type DecisionReceipt, DecisionReceiptSchema, ReceiptItemSchema } from "../../gen/chorus/v1/ledger_pb.ts";
import { trimToCap } from "../../lib/collections/lru.ts";
import { demoCatalog } from "../../lib/demo/demo-catalog.ts";
import { formatTable, writeJson } from "../lib/report-table.ts";

const opts = new Command()
  .option("--decisions <n>", "decisions remembered (10 minutes at 100/s)", "60000")
  .option("--json <path>", "result file", "bench-results/retained-memory.json")
  .parse()
  .opts<{ decisions: string; json: string }>();
const N = Number(opts.decisions);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");

const catalog = demoCatalog({ nowMs: 0 });
const campaigns = new Map(catalog.campaigns.map((c) => [c.id, c]));
const tokens = new EventTokens([{ id: "k1", secret: Buffer.alloc(32, 7) }], 3_600_000);
const versions = ["intent", "relevance", "bidding", "creative", "budget", "timing", "orchestrator"].map((m) =>
  create(ModuleVersionSchema, { module: m, version: "1.0.0" }),
);

/** One answered decision as the gateway returns it: a two-ad pod, signed, with the module versions it ran. */
function decision(i: number): { response: DecideResponse; receipt: DecisionReceipt } {
  const decisionId = randomUUID();
  const batch = `b${(i >> 6).toString(36).padStart(20, "0")}`;
  const ads = [0, 1].map((k) => {
    const creative = catalog.creatives[(i * 7 + k * 13) % catalog.creatives.length]!;
    const campaign = campaigns.get(creative.campaignId)!;
    return create(PodAdSchema, {
      sequence: k + 1,
      creativeId: creative.id,
      campaignId: campaign.id,
      advertiserId: campaign.advertiserId,
      priceMicros: BigInt(1_000 + i),
      format: creative.format,
      durationMs: creative.durationMs,
      mediaUrl: creative.mediaUrl,
      clickUrl: creative.clickUrl,
      tracking: creative.tracking,
      iabCategory: creative.iabCategory,
      eventToken: tokens.sign(decisionId, creative.id, 0, batch),
    });
  });
  const response = create(DecideResponseSchema, {
    decisionId,
    ads,
    moduleVersions: versions,
    degradedAgents: i % 10 === 0 ? [create(DegradedAgentSchema, { agent: "timing", reason: 1, fallback: 1 })] : [],
    coordination: "cached",
  });
  const receipt = create(DecisionReceiptSchema, {
    decisionId,
    decidedAt: timestampFromMs(1_700_000_000_000 + i),
    userId: `pseudonym-${(i % 5_000).toString(36).padStart(22, "0")}`,
    gatewayId: "gateway-host-1",
    items: ads.map((a) =>
      create(ReceiptItemSchema, {
        campaignId: a.campaignId,
        creativeId: a.creativeId,
        priceMicros: a.priceMicros,
        leaseId: `lease-${a.campaignId}-1`,
      }),
    ),
  });
  return { response, receipt };
}

const used = () => {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external };
};

interface Row {
  memory: string;
  held: number;
  heapMb: number;
  externalMb: number;
  bytesPerDecision: number;
}
const rows: Row[] = [];
async function measure(memory: string, fill: () => Promise<number>): Promise<void> {
  const before = used();
  const held = await fill();
  const after = used();
  const heap = after.heap - before.heap;
  const external = after.external - before.external;
  rows.push({
    memory,
    held,
    heapMb: Math.round(heap / 2 ** 20),
    externalMb: Math.round(external / 2 ** 20),
    bytesPerDecision: Math.round((heap + external) / N),
  });
}

let keep: unknown;
const decisions = Array.from({ length: N }, (_, i) => i);
await measure("idempotency, objects (before)", async () => {
  const entries = new Map<string, { at: number; response: Promise<DecideResponse> }>();
  for (const i of decisions)
    entries.set(`key-1\u0000req-${i}`, { at: i, response: Promise.resolve(decision(i).response) });
  keep = entries;
  return entries.size;
});
keep = undefined;
await measure("idempotency, encoded, 16 MiB cap (now)", async () => {
  const ids = new IdempotentDecisions({ ttlMs: Number.POSITIVE_INFINITY });
  for (const i of decisions) await ids.run("key-1", `req-${i}`, async () => decision(i).response);
  keep = ids;
  return ids.size;
});
keep = undefined;
await measure("idempotency, encoded, no byte cap", async () => {
  const ids = new IdempotentDecisions({ ttlMs: Number.POSITIVE_INFINITY, maxBytes: Number.POSITIVE_INFINITY });
  for (const i of decisions) await ids.run("key-1", `req-${i}`, async () => decision(i).response);
  keep = ids;
  return ids.size;
});
keep = undefined;
await measure("receipts, objects, 100,000 cap (before)", async () => {
  const cache = new Map<string, DecisionReceipt>();
  const batches = new Map<string, string>();
  for (const i of decisions) {
    const r = decision(i).receipt;
    cache.set(r.decisionId, r);
    batches.set(r.decisionId, `b${(i >> 6).toString(36).padStart(20, "0")}`);
  }
  keep = [cache, batches];
  return cache.size;
});
keep = undefined;
await measure("receipts, encoded, 50,000 cap (now)", async () => {
  // ReceiptStore's cache as it is now: the receipt's encoding and its listener, and a short decision->batch index.
  const cache = new Map<string, { userId: string; bytes: Uint8Array }>();
  const batches = new Map<string, string>();
  for (const i of decisions) {
    const r = decision(i).receipt;
    cache.set(r.decisionId, { userId: r.userId, bytes: toBinary(DecisionReceiptSchema, r) });
    trimToCap(cache, 50_000);
    batches.set(r.decisionId, `b${(i >> 6).toString(36).padStart(20, "0")}`);
    trimToCap(batches, 16_384);
  }
  keep = [cache, batches];
  return cache.size;
});
keep = undefined;
void keep;
console.log(`\nRetained by ${N} decisions (heap after full GC, plus external):\n`);
console.log(
  formatTable(
    [
      { header: "memory", value: (r: Row) => r.memory },
      { header: "entries held", value: (r: Row) => r.held },
      { header: "heap MiB", value: (r: Row) => r.heapMb },
      { header: "external MiB", value: (r: Row) => r.externalMb },
      { header: "bytes / decision", value: (r: Row) => r.bytesPerDecision },
    ],
    rows,
  ),
);
console.log(`results: ${writeJson(opts.json, { benchmark: "retained-memory", decisions: N, rows })}`);
