/**
 * Publishing "only onto an empty subject": JetStream checks Nats-Expected-Last-Subject-Sequence = 0 atomically in
 * the stream, so of two publishers of one fact (two gateways, a retry after the duplicate window) one is stored
 * and the other is told the subject is taken, without the stream-wide `max_msgs_per_subject: 1` that would also
 * force one subject per message on everything else in the stream.
 */
export const ONLY_IF_EMPTY = { lastSubjectSequence: 0 } as const;

/** JetStream's answer to an `ONLY_IF_EMPTY` publish on a subject that already holds a message. */
export function isSubjectTaken(err: unknown): boolean {
  return err instanceof Error && /wrong last sequence/i.test(err.message);
}
