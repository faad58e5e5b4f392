import { fromBinary, mergeFromBinary } from "@bufbuild/protobuf";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Objm } from "@nats-io/obj";
import { type DecisionRecord, DecisionRecordSchema, KernelInputsSchema } from "../gen/chorus/v1/decision_log_pb.ts";
import { buckets, streams, subjects } from "../lib/subjects.ts";

export class DecisionNotFoundError extends Error {
  override readonly name = "DecisionNotFoundError";
  constructor(readonly decisionId: string) {
    super(
      `decision ${JSON.stringify(decisionId)} is not in the decision log ` +
        `(never recorded, sampled out, or older than the stream's limits)`,
    );
  }
}

/** Reads one decision by id with a direct get on its subject. Throws DecisionNotFoundError when absent. */
export async function readDecisionRecord(nc: NatsConnection, decisionId: string): Promise<DecisionRecord> {
  const jsm = await jetstreamManager(nc);
  const stored = await jsm.direct
    .getMessage(streams.decisions, { last_by_subj: subjects.decisionRecord(decisionId) })
    .catch((err: unknown) => {
      if (/stream not found/i.test(String(err))) {
        throw new Error(`the decision log stream ${streams.decisions} does not exist on this NATS server`, {
          cause: err,
        });
      }
      throw err;
    });
  if (!stored) throw new DecisionNotFoundError(decisionId);
  const record = fromBinary(DecisionRecordSchema, stored.data);
  const inputs = record.kernelInputs;
  if (inputs?.inventoryObject) {
    const objects = await new Objm(jetstream(nc)).open(buckets.decisionInventories);
    const bytes = await objects.getBlob(inputs.inventoryObject);
    if (!bytes) {
      throw new Error(
        `decision ${JSON.stringify(decisionId)}: its inventory ${inputs.inventoryObject} is no longer in ` +
          `${buckets.decisionInventories}`,
      );
    }
    mergeFromBinary(KernelInputsSchema, inputs, bytes);
  }
  return record;
}
