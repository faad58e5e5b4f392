/**
 * The gateway's part of erasure (`chorus users forget`): on subjects.usersForget it drops the listeners from every
 * agent mirror it votes with and its receipt cache, then answers with what it changed. Every gateway answers (no
 * queue group): each holds its own copies.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { ForgetListenersSchema, ListenersForgottenSchema } from "../../gen/chorus/v1/privacy_pb.ts";
import type { Logger } from "../../lib/log/logger.ts";
import { reportBadMessage } from "../../lib/nats/bad-messages.ts";
import { readMessage } from "../../lib/nats/read-message.ts";
import { subjects } from "../../lib/subjects.ts";

export interface ForgetTargets {
  forgetListeners(pseudonyms: ReadonlySet<string>): string[];
}

export function answerForgetRequests(
  nc: NatsConnection,
  options: {
    gatewayId: string;
    engine: ForgetTargets;
    receipts: { forgetUsers(p: ReadonlySet<string>): number };
    logger: Logger;
  },
): Subscription {
  return nc.subscribe(subjects.usersForget, {
    callback: (err, msg) => {
      if (err) return;
      const read = readMessage(ForgetListenersSchema, msg.data);
      if (!read.ok || read.message.pseudonyms.length === 0) {
        reportBadMessage(options.logger, {
          consumer: "gateway:forget",
          subject: msg.subject,
          reason: read.ok ? "out_of_range" : read.reason,
          detail: read.ok ? "no pseudonym" : read.detail,
        });
        return;
      }
      const pseudonyms = new Set(read.message.pseudonyms);
      const keys = options.engine.forgetListeners(pseudonyms);
      const receipts = options.receipts.forgetUsers(pseudonyms);
      options.logger.info({ keys: keys.length, receipts }, "listeners forgotten");
      msg.respond(
        toBinary(ListenersForgottenSchema, create(ListenersForgottenSchema, { process: options.gatewayId, keys })),
      );
    },
  });
}
