import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DecisionReceiptSchema, ReceiptBatchSchema } from "../gen/chorus/v1/ledger_pb.ts";
import { receipt } from "./ledger-test-kit.ts";
import { frameReceiptBatch } from "./receipt-store.ts";

describe("receipt batch framing", () => {
  it("is byte for byte protobuf-es's encoding of the ReceiptBatch, for small and large receipts", () => {
    for (const n of [1, 2, 7, 256]) {
      const receipts = Array.from({ length: n }, (_, i) =>
        receipt(
          `d-${i}`,
          1_700_000_000_000 + i,
          // Item counts that push a receipt's length past one and two length bytes (128 and 16,384).
          Array.from({ length: 1 + ((i * 37) % 300) }, (_, k) => ({
            campaignId: `campaign-${k}`,
            creativeId: `creative-${i}-${k}`,
            priceMicros: BigInt(1 + k * 1_000),
            leaseId: `lease-${k}`,
          })),
        ),
      );
      const framed = frameReceiptBatch(receipts.map((r) => toBinary(DecisionReceiptSchema, r)));
      const expected = toBinary(ReceiptBatchSchema, create(ReceiptBatchSchema, { receipts }));
      expect(Buffer.from(framed).equals(Buffer.from(expected))).toBe(true);
      const back = fromBinary(ReceiptBatchSchema, framed).receipts;
      expect(back.length).toBe(n);
      for (const [i, r] of back.entries()) expect(equals(DecisionReceiptSchema, r, receipts[i]!)).toBe(true);
    }
  });
});
